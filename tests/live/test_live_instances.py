"""Two host instances on one store: one holds a chat's stream; when it dies
(its lease left to run out, as a kill -9 would) the other takes the stream over
and resumes from the Last-Event-Id in the store, with nothing lost or repeated.
And a verified user: the emulator checks the plugin's identity JWT against the
JWKS the plugin serves under its prefix."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import aiohttp
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from live_stack import json_get, live_host, new_emulator, two_hosts
from live_support import Rep
from test_live_fallback import case_comments
from test_live_handoff import accepted, agent_texts, chat_session, live_chat

from opencx_salesforce.devhost.stack import Stack
from opencx_salesforce.devhost.waiting import wait_for
from opencx_salesforce.emulator.messaging.deployment import DEFAULT_DEPLOYMENT
from opencx_salesforce.live.service import LiveService
from opencx_salesforce.models import Role, SessionStatus
from opencx_salesforce.runtime import ROUTE_PREFIX


async def test_a_second_instance_takes_over_the_stream_when_the_holders_lease_lapses() -> None:
    emulator, org = await new_emulator()
    first, second = await two_hosts(emulator, org)
    try:
        async with aiohttp.ClientSession() as http:
            rep = Rep(http, emulator.base_url, org)
            session = await chat_session(first)
            await first.host.handoff(session.id)
            chat = await accepted(first, rep, session.id)
            first_live, second_live = first.runtime.live, second.runtime.live
            assert first_live is not None and second_live is not None
            holder = await first_live.chats.lease_holder(chat.conversation_id)
            holders = {
                first_live.keeper.instance_id: first_live,
                second_live.keeper.instance_id: second_live,
            }
            assert holder in holders
            dying = holders.pop(holder)
            survivor = next(iter(holders.values()))
            await rep.act(chat.conversation_id, "message", text="before the crash")
            await wait_for(
                lambda: _texts_are(first, session.id, ["before the crash"]), what="first message"
            )
            # The holder dies: its stream stops and its lease is left to run out.
            await dying.keeper.stop(release=False)
            for number in range(5):
                await rep.act(chat.conversation_id, "message", text=f"while nobody reads {number}")

            async def taken_over() -> bool:
                return session.id in survivor.keeper.held

            await wait_for(taken_over, timeout=10, what="the other instance holding the stream")
            await rep.act(chat.conversation_id, "message", text="after the takeover")
            expected = [
                "before the crash",
                *[f"while nobody reads {n}" for n in range(5)],
                "after the takeover",
            ]
            await wait_for(
                lambda: _texts_are(first, session.id, expected), timeout=15, what="all seven"
            )
            assert await first_live.chats.lease_holder(chat.conversation_id) == (
                survivor.keeper.instance_id
            )
    finally:
        await second.host.stop()
        await first.close()


async def _texts_are(stack: object, session_id: str, expected: list[str]) -> bool:
    texts = await agent_texts(stack, session_id)  # type: ignore[arg-type]
    assert len(texts) <= len(expected) and texts == expected[: len(texts)], texts
    return texts == expected


async def test_a_verified_users_identity_jwt_is_checked_against_the_plugins_jwks() -> None:
    emulator, org = await new_emulator()
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    stack = await live_host(
        emulator,
        org,
        live={"identity_private_key": pem, "identity_issuer": "https://helpdesk.example"},
    )
    try:
        jwks_url = f"{stack.host_url}{ROUTE_PREFIX}/live/jwks.json"
        document = await json_get(jwks_url)
        assert [k["kid"] for k in document["keys"]] == ["opencx-live-1"]
        assert "d" not in document["keys"][0]  # public keys only
        async with aiohttp.ClientSession() as http:
            rep = Rep(http, emulator.base_url, org)
            # Setup → User Verification: the keyset's endpoint URL is the plugin's JWKS.
            await rep.deployment(
                apiName=DEFAULT_DEPLOYMENT,
                jwksUrl=jwks_url,
                issuer="https://helpdesk.example",
                allowGuests=False,
            )
            session = await chat_session(stack)
            await stack.host.handoff(session.id)
            chat = await live_chat(stack, session.id)
            assert chat.verified and chat.subject == "email:ada@example.com"
            await accepted(stack, rep, session.id)
            await rep.act(chat.conversation_id, "message", text="Hello, verified Ada")
            await wait_for(
                lambda: _texts_are(stack, session.id, ["Hello, verified Ada"]), what="the reply"
            )
    finally:
        await stack.close()


async def test_a_verified_users_token_expiring_mid_chat_is_renewed_and_messages_keep_flowing() -> (
    None
):
    emulator, org = await new_emulator()
    pem = _private_key_pem()
    stack = await live_host(
        emulator,
        org,
        live={"identity_private_key": pem, "identity_issuer": "https://helpdesk.example"},
    )
    try:
        jwks_url = f"{stack.host_url}{ROUTE_PREFIX}/live/jwks.json"
        async with aiohttp.ClientSession() as http:
            rep = Rep(http, emulator.base_url, org)
            # Setup → Messaging Settings: verified users' tokens last 2 s here.
            await rep.deployment(
                apiName=DEFAULT_DEPLOYMENT,
                jwksUrl=jwks_url,
                issuer="https://helpdesk.example",
                allowGuests=False,
                verifiedTokenSeconds=2,
            )
            session = await chat_session(stack)
            await stack.host.handoff(session.id)
            chat = await accepted(stack, rep, session.id)
            assert chat.verified
            live = stack.runtime.live
            assert live is not None
            await rep.act(chat.conversation_id, "message", text="before expiry")
            await wait_for(lambda: _texts_are(stack, session.id, ["before expiry"]), what="one")

            async def expired(token: str) -> bool:
                current = await live.chats.get(session.id)
                assert current is not None and current.token_expires_at is not None
                # The JWT's exp is in whole seconds: past it by more than one.
                return current.token == token and time.time() > current.token_expires_at + 1.1

            # Agent → contact: the stream's token expires; its reconnect is refused
            # (401) and the plugin renews with a freshly signed identity JWT.
            await wait_for(lambda: expired(chat.token), what="the first token expired")
            await rep.act(chat.conversation_id, "message", text="after expiry")
            await wait_for(
                lambda: _texts_are(stack, session.id, ["before expiry", "after expiry"]),
                what="the message after the renewal",
            )
            renewed = await live.chats.get(session.id)
            assert renewed is not None and renewed.token != chat.token
            # Contact → agent: the send finds its token expired too, renews, sends.
            await wait_for(lambda: expired(renewed.token), what="the second token expired")
            await stack.host.post_message(session.id, Role.CONTACT, "Still here, thanks")

            async def agent_saw() -> bool:
                conversation = await rep.conversation(chat.conversation_id)
                return any(
                    e["entryPayload"]
                    .get("abstractMessage", {})
                    .get("staticContent", {})
                    .get("text")
                    == "Still here, thanks"
                    for e in conversation["entries"]
                )

            await wait_for(agent_saw, what="the contact's message at the agent")
            final = await live.chats.get(session.id)
            assert final is not None and final.state == "active" and final.verified
            assert final.token not in (chat.token, renewed.token)
    finally:
        await stack.close()


def _private_key_pem() -> str:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()


@pytest.mark.parametrize("stops", ["the stream's reader", "the other"])
async def test_a_chat_across_two_instances_loses_repeats_and_reorders_nothing(
    stops: str,
) -> None:
    # The contact writes through both instances at once while the rep replies
    # and one instance stops (a rolling deploy: DevHost.stop); the chat goes
    # on through the other, and the rep ends it.
    emulator, org = await new_emulator()
    first, second = await two_hosts(emulator, org)
    stopping = None
    try:
        async with aiohttp.ClientSession() as http:
            rep = Rep(http, emulator.base_url, org)
            session = await chat_session(first)
            await first.host.handoff(session.id)
            chat = await accepted(first, rep, session.id)
            conversation = chat.conversation_id
            instances = {_live(s).keeper.instance_id: s for s in (first, second)}
            reader = instances.pop(str(await _live(first).chats.lease_holder(conversation)))
            other = next(iter(instances.values()))
            stopping, survivor = (other, reader) if stops == "the other" else (reader, other)

            async def stop() -> None:
                await asyncio.sleep(0.02)  # amid the traffic
                await stopping.host.stop()

            hosts = (first, second)
            await asyncio.gather(
                *(
                    hosts[n % 2].host.post_message(session.id, Role.CONTACT, f"contact {n}")
                    for n in range(12)
                ),
                *(rep.act(conversation, "message", text=f"rep {n}") for n in range(6)),
                stop(),
                return_exceptions=True,  # a message to the stopped instance is refused
            )
            for n in range(12, 15):
                await survivor.host.post_message(session.id, Role.CONTACT, f"contact {n}")
            for n in range(6, 9):
                await rep.act(conversation, "message", text=f"rep {n}")
            found = await survivor.host.get_session(session.id)
            assert found is not None
            written = [
                m.text
                for m in found.messages
                if m.role == Role.CONTACT and m.text.startswith("contact ")
            ]

            async def at_the_agent() -> list[str] | None:
                seen = _contact_texts(await rep.conversation(conversation))
                assert len(seen) == len(set(seen)), seen  # none twice
                return seen if len(seen) >= len(written) else None

            # Each once, in the order the contact wrote them (the session's).
            assert await wait_for(at_the_agent, timeout=20, what="all words") == written

            async def replies() -> list[str] | None:
                texts = await agent_texts(survivor, session.id)
                return texts if len(texts) >= 9 else None

            # Each once, in the conversation's order.
            said = _agent_texts_of(await rep.conversation(conversation))
            assert await wait_for(replies, timeout=15, what="all replies") == said
            await rep.act(conversation, "end")

            async def resolved() -> bool:
                now = await survivor.host.get_session(session.id)
                return now is not None and now.status == SessionStatus.RESOLVED

            await wait_for(resolved, timeout=10, what="the session resolved")
            assert chat.case_id is not None  # every word was read: none on the Case
            assert not any(
                "contact " in body for body in await case_comments(survivor, chat.case_id)
            )
    finally:
        for stack in (second, first):
            if stack is not stopping:
                await stack.host.stop()
        await emulator.close()


def _live(stack: Stack) -> LiveService:
    live = stack.runtime.live
    assert live is not None
    return live


def _agent_texts_of(conversation: dict[str, Any]) -> list[str]:
    texts = []
    for entry in conversation["entries"]:
        if (entry.get("sender") or {}).get("role") != "Agent":
            continue
        payload = entry.get("entryPayload") or {}
        text = payload.get("abstractMessage", {}).get("staticContent", {}).get("text")
        if isinstance(text, str):
            texts.append(text)
    return texts


def _contact_texts(conversation: dict[str, Any]) -> list[str]:
    texts = []
    for entry in conversation["entries"]:
        if (entry.get("sender") or {}).get("role") != "EndUser":
            continue
        payload = entry.get("entryPayload") or {}
        text = payload.get("abstractMessage", {}).get("staticContent", {}).get("text")
        if isinstance(text, str) and text.startswith("contact "):
            texts.append(text)
    return texts
