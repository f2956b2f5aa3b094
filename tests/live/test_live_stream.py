"""The plugin's stream reader against the emulator over HTTP: 100 rep messages
arrive once each, in order, while the emulator cuts the stream five times and
sends events twice; with the platform's replay off, the list-entries backfill
fills the gaps; a refused token ends the reading."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from aiohttp import web
from live_support import ATTRIBUTES, Rep

from opencx_salesforce.emulator.app import Emulator
from opencx_salesforce.live.client import ScrtClient, new_conversation_id
from opencx_salesforce.live.errors import Unauthorized
from opencx_salesforce.live.identity import IdentityKey, IdentitySigner
from opencx_salesforce.live.models import (
    LiveEvent,
    MessageEvent,
    ParticipantChanged,
    RoutingResult,
    SessionStatusChanged,
)
from opencx_salesforce.live.stream import Backoff, EventStream, list_entries_backfill

FAST = Backoff(initial=0.01, factor=1.5, cap=0.05)


def stream_for(
    client: ScrtClient, token: str, last_event_id: str, **options: object
) -> EventStream:
    async def current() -> str:
        return token

    return EventStream(
        client.http,
        client.scrt_url,
        client.org_id,
        current,
        last_event_id=last_event_id,
        backoff=FAST,
        **options,  # type: ignore[arg-type]
    )


async def read_agent_messages(stream: EventStream, count: int, seen: list[LiveEvent]) -> list[str]:
    texts: list[str] = []
    async with asyncio.timeout(30):
        async for event in stream.events():
            seen.append(event)
            if isinstance(event, MessageEvent) and not event.from_end_user:
                texts.append(event.text)
                if len(texts) == count:
                    break
    return texts


@pytest.mark.parametrize("replay", [True, False], ids=["replay", "backfill"])
async def test_100_rep_messages_arrive_once_in_order_through_drops_and_duplicates(
    client: ScrtClient, rep: Rep, replay: bool
) -> None:
    token = await client.guest_token()
    conversation_id = new_conversation_id()
    await rep.faults(sse_drop_after=15, sse_drops=5, duplicate_rate=0.5, replay_on_resume=replay)
    # Without the platform's replay, the reader reads what it missed from the list.
    backfill = list_entries_backfill(client, lambda: _const(token.token), lambda: [conversation_id])
    stream = stream_for(
        client, token.token, token.last_event_id, backfill=None if replay else backfill
    )
    seen: list[LiveEvent] = []
    routed = asyncio.Event()

    async def rep_side() -> None:
        await client.create_conversation(token.token, conversation_id, ATTRIBUTES)
        await routed.wait()
        await rep.act(conversation_id, "accept")
        await client.send_message(token.token, conversation_id, "hello from the contact")
        for number in range(100):
            await rep.act(conversation_id, "message", text=f"rep message {number:03}")

    async def watch_routing() -> list[str]:
        texts: list[str] = []
        async with asyncio.timeout(30):
            async for event in stream.events():
                seen.append(event)
                if isinstance(event, RoutingResult):
                    routed.set()
                if isinstance(event, MessageEvent) and not event.from_end_user:
                    texts.append(event.text)
                    if len(texts) == 100:
                        return texts
        return texts

    reader = asyncio.create_task(watch_routing())
    async with asyncio.timeout(30):
        await rep_side()
        texts = await reader

    assert texts == [f"rep message {number:03}" for number in range(100)]
    entry_ids = [event.entry_id for event in seen]
    assert len(entry_ids) == len(set(entry_ids))  # nothing twice
    if replay:
        assert (await rep.faults())["sse_drops"] == 0  # the emulator cut it five times
        assert stream.connections == 6
    else:
        # Cut at least once, and what the stream missed came from the list.
        assert stream.connections >= 2
        assert any(event.event_id is None for event in seen)
    assert any(isinstance(e, ParticipantChanged) and e.joined for e in seen)
    assert any(isinstance(e, SessionStatusChanged) and e.status == "Active" for e in seen)
    echoes = [e for e in seen if isinstance(e, MessageEvent) and e.from_end_user]
    assert [e.text for e in echoes] == ["hello from the contact"]  # the caller skips these


async def _const(value: str) -> str:
    return value


async def test_the_rep_ending_the_session_reaches_the_reader(
    client: ScrtClient, rep: Rep, salesforce_emulator: Emulator
) -> None:
    token = await client.guest_token()
    conversation_id = new_conversation_id()
    stream = stream_for(client, token.token, token.last_event_id)
    await client.create_conversation(token.token, conversation_id, ATTRIBUTES)
    ended: SessionStatusChanged | None = None
    async with asyncio.timeout(30):
        async for event in stream.events():
            if isinstance(event, RoutingResult):
                await rep.act(conversation_id, "accept")
                await rep.act(conversation_id, "end")
            if isinstance(event, SessionStatusChanged) and event.ended:
                ended = event
                break
    assert ended is not None and ended.conversation_id == conversation_id


async def test_an_expired_token_stops_the_reader(
    client: ScrtClient, salesforce_emulator: Emulator
) -> None:
    token = await client.guest_token()
    salesforce_emulator.state.clock.advance(7 * 3600)
    stream = stream_for(client, token.token, token.last_event_id)
    with pytest.raises(Unauthorized):
        async for _ in stream.events():
            pass


async def test_a_verified_users_expired_token_is_renewed_and_the_stream_resumes(
    client: ScrtClient, rep: Rep, salesforce_emulator: Emulator, aiohttp_server: Any
) -> None:
    signer = IdentitySigner(IdentityKey.generate("opencx-live"), "https://helpdesk.example")

    async def jwks(request: web.Request) -> web.Response:
        return web.json_response(signer.jwks())

    app = web.Application()
    app.router.add_get("/jwks.json", jwks)
    server = await aiohttp_server(app)
    await rep.deployment(
        apiName=client.deployment,
        jwksUrl=str(server.make_url("/jwks.json")),
        issuer="https://helpdesk.example",
        allowGuests=False,
        verifiedTokenSeconds=600,
    )
    current = await client.verified_token(signer.sign("contact-9"))
    conversation_id = new_conversation_id()
    await client.create_conversation(current.token, conversation_id, ATTRIBUTES)
    renewals = 0

    async def token() -> str:
        return current.token

    async def renew() -> None:
        nonlocal current, renewals
        renewals += 1
        # Signed on the emulator's clock, which the test moved forward.
        now = salesforce_emulator.state.clock.now()
        current = await client.verified_token(signer.sign("contact-9", now=now))

    stream = EventStream(
        client.http,
        client.scrt_url,
        client.org_id,
        token,
        last_event_id=current.last_event_id,
        backoff=FAST,
        renew=renew,
    )
    texts: list[str] = []
    async with asyncio.timeout(30):
        async for event in stream.events():
            if isinstance(event, RoutingResult):
                await rep.act(conversation_id, "accept")
                await rep.act(conversation_id, "message", text="before expiry")
            if isinstance(event, MessageEvent):
                texts.append(event.text)
                if event.text == "before expiry":
                    # The token expires; the stream's next connection gets a 401.
                    salesforce_emulator.state.clock.advance(601)
                    await rep.drop_streams()
                    await rep.act(conversation_id, "message", text="after renewal")
                if event.text == "after renewal":
                    break
    assert texts == ["before expiry", "after renewal"]
    assert renewals == 1
    assert current.verified
