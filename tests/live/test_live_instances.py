"""Two host instances on one store: one holds a chat's stream; when it dies
(its lease left to run out, as a kill -9 would) the other takes the stream over
and resumes from the Last-Event-Id in the store, with nothing lost or repeated.
And a verified user: the emulator checks the plugin's identity JWT against the
JWKS the plugin serves under its prefix."""

from __future__ import annotations

import time

import aiohttp
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from live_stack import json_get, live_host, new_emulator, two_hosts
from live_support import Rep
from test_live_handoff import accepted, agent_texts, chat_session, live_chat

from opencx_salesforce.devhost.waiting import wait_for
from opencx_salesforce.emulator.messaging.deployment import DEFAULT_DEPLOYMENT
from opencx_salesforce.models import Role
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
