"""The plugin's SCRT client against the emulator over HTTP: tokens, a conversation
with routing attributes, messages, entries, close, and errors as exceptions."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from aiohttp import web
from live_support import ATTRIBUTES, Rep

from opencx_salesforce.emulator.app import Emulator
from opencx_salesforce.emulator.messaging.routes import messaging_of
from opencx_salesforce.live.client import ScrtClient, new_conversation_id
from opencx_salesforce.live.errors import (
    BadRequest,
    Forbidden,
    RateLimited,
    Unauthorized,
    VerificationFailed,
)
from opencx_salesforce.live.identity import IdentityKey, IdentitySigner
from opencx_salesforce.live.models import ConversationClosed, MessageEvent, RoutingResult

ISSUER = "https://helpdesk.example/salesforce"


async def routed_conversation(client: ScrtClient, emulator: Emulator) -> tuple[str, str]:
    token = await client.guest_token()
    conversation_id = new_conversation_id()
    await client.create_conversation(token.token, conversation_id, ATTRIBUTES, language="en_US")
    await messaging_of(emulator.app).settle()
    return token.token, conversation_id


async def test_a_guest_conversation_with_routing_attributes(
    client: ScrtClient, rep: Rep, salesforce_emulator: Emulator
) -> None:
    token = await client.guest_token()
    assert not token.verified and token.expires_at and token.last_event_id
    assert token.deployment_type == "api"  # a Custom Client deployment
    token_value, conversation_id = await routed_conversation(client, salesforce_emulator)
    seen = await rep.conversation(conversation_id)
    assert seen["session"]["routingAttributes"] == ATTRIBUTES

    await rep.act(conversation_id, "accept")
    sent_id = await client.send_message(token_value, conversation_id, "Is anyone there?")
    await rep.act(conversation_id, "message", text="Yes, Riley here.")
    entries = await client.list_entries(token_value, conversation_id, direction="FromStart")
    messages = [e for e in entries if isinstance(e, MessageEvent)]
    assert [(m.sender_role, m.text) for m in messages] == [
        ("EndUser", "Is anyone there?"),
        ("Agent", "Yes, Riley here."),
    ]
    assert messages[0].entry_id == sent_id and messages[0].from_end_user
    assert messages[1].sender_name == "Riley Rep"
    routing = [e for e in entries if isinstance(e, RoutingResult)]
    assert routing and not routing[0].failed

    await client.close_conversation(token_value, conversation_id)
    newest = await client.list_entries(token_value, conversation_id, limit=1)
    assert isinstance(newest[0], ConversationClosed)


async def test_errors_become_exceptions(
    client: ScrtClient, rep: Rep, salesforce_emulator: Emulator
) -> None:
    token, conversation_id = await routed_conversation(client, salesforce_emulator)
    with pytest.raises(ValueError, match="lowercase UUID"):
        await client.create_conversation(token, new_conversation_id().upper())
    with pytest.raises(TypeError):
        await client.create_conversation(token, new_conversation_id(), {"_firstName": 1})  # type: ignore[dict-item]
    with pytest.raises(BadRequest) as conflict:
        await client.create_conversation(token, conversation_id)
    assert conflict.value.status == 409

    for number in range(22):
        await client.send_message(token, conversation_id, f"line {number}")
    with pytest.raises(RateLimited) as limited:
        await client.send_message(token, conversation_id, "one too many")
    assert limited.value.retry_after >= 1

    stranger = (await client.guest_token()).token
    with pytest.raises(Forbidden):
        await client.send_message(stranger, conversation_id, "hi")
    salesforce_emulator.state.clock.advance(7 * 3600)
    with pytest.raises(Unauthorized):
        await client.send_message(token, conversation_id, "later")
    bad = ScrtClient(client.http, client.scrt_url, client.org_id, "No_Such_Deployment")
    with pytest.raises(BadRequest):
        await bad.guest_token()


async def test_continuation_token_keeps_the_end_user(client: ScrtClient) -> None:
    token = await client.guest_token()
    continued = await client.continuation_token(token.token)
    assert continued.subject == token.subject
    assert continued.token != token.token
    conversation_id = new_conversation_id()
    await client.create_conversation(continued.token, conversation_id)
    await client.send_message(token.token, conversation_id, "same end user, old token")


@pytest.fixture
def signer() -> IdentitySigner:
    return IdentitySigner(IdentityKey.generate("opencx-2026-12"), ISSUER)


@pytest.fixture
async def jwks_url(signer: IdentitySigner, aiohttp_server: Callable[..., Awaitable[Any]]) -> str:
    """The plugin's JWKS, served as the host will serve it under its prefix."""

    async def jwks(request: web.Request) -> web.Response:
        return web.json_response(signer.jwks())

    app = web.Application()
    app.router.add_get("/salesforce/live/jwks.json", jwks)
    server = await aiohttp_server(app)
    return str(server.make_url("/salesforce/live/jwks.json"))


async def test_a_verified_user_token_from_the_plugins_signed_jwt(
    client: ScrtClient, rep: Rep, signer: IdentitySigner, jwks_url: str
) -> None:
    await rep.deployment(apiName=client.deployment, jwksUrl=jwks_url, issuer=ISSUER)
    token = await client.verified_token(signer.sign("contact-42"))
    assert token.verified
    assert token.subject.endswith("uid:contact-42")
    conversation_id = new_conversation_id()
    await client.create_conversation(token.token, conversation_id, ATTRIBUTES)

    # A key the JWKS does not hold is refused ...
    stranger = IdentitySigner(IdentityKey.generate("opencx-2026-12"), ISSUER)
    with pytest.raises(Unauthorized):
        await client.verified_token(stranger.sign("contact-42"))
    # ... and where the platform answers with a guest token instead, the client says so.
    await rep.deployment(apiName=client.deployment, silentGuestFallback=True)
    with pytest.raises(VerificationFailed):
        await client.verified_token(stranger.sign("contact-42"))


async def test_a_rotated_key_still_verifies_while_it_is_served(
    client: ScrtClient, rep: Rep, signer: IdentitySigner, jwks_url: str
) -> None:
    await rep.deployment(apiName=client.deployment, jwksUrl=jwks_url, issuer=ISSUER)
    old = signer.current
    token_signed_before = signer.sign("contact-7")
    signer.retired = (old,)
    signer.current = IdentityKey.generate("opencx-2027-01")
    assert (await client.verified_token(token_signed_before)).verified
    assert (await client.verified_token(signer.sign("contact-7"))).verified
    assert {key["kid"] for key in signer.jwks()["keys"]} == {"opencx-2026-12", "opencx-2027-01"}
    assert all("d" not in key for key in signer.jwks()["keys"])  # public parts only
    # Another host instance loading the same key serves the same JWKS.
    assert IdentityKey.from_pem(old.private_pem(), old.kid).public_jwk() == old.public_jwk()
