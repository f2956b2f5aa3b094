"""Access tokens over HTTP: guests, verified users (an identity JWT checked against
a JWKS the test serves), continuation, expiry, and the deployment checks."""

from __future__ import annotations

import base64
import json
import re
import time
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from aiohttp import web
from joserfc import jwt
from joserfc.jwk import OctKey, RSAKey
from miaw_support import ATTRIBUTES, Agent, EndUser, jwk_with_certificate

from opencx_salesforce.emulator.app import Emulator

ISSUER = "https://helpdesk.example/opencx"


@pytest.fixture
def signing_key() -> RSAKey:
    return RSAKey.generate_key(2048, parameters={"kid": "opencx-1"})


@pytest.fixture
def served_keys(signing_key: RSAKey) -> list[dict[str, Any]]:
    """What the JWKS endpoint serves; a test may change it."""
    return [jwk_with_certificate(signing_key)]


@pytest.fixture
async def jwks_url(
    served_keys: list[dict[str, Any]], aiohttp_server: Callable[..., Awaitable[Any]]
) -> str:
    """The plugin's public keys, served as a JWKS the way a host would."""

    async def keys(request: web.Request) -> web.Response:
        return web.json_response({"keys": served_keys})

    app = web.Application()
    app.router.add_get("/opencx/jwks.json", keys)
    server = await aiohttp_server(app)
    return str(server.make_url("/opencx/jwks.json"))


def identity(key: RSAKey, **claims: Any) -> str:
    now = int(time.time())
    body = {"iss": ISSUER, "sub": "contact-42", "iat": now, "exp": now + 300, **claims}
    return jwt.encode({"alg": "RS256", "typ": "JWT", "kid": key.kid}, body, key)


async def test_guest_token_carries_the_deployment_and_a_readable_expiry(
    end_user: EndUser,
) -> None:
    reply = await end_user.guest()
    assert reply.status == 200, reply.body
    assert reply.body["lastEventId"].isdigit()
    context = reply.body["context"]
    # A guest's subject is v2/iamessage/UNAUTH/NA/uid:<uuid> [src: official sample
    # app's example.json]; it never reads as verified (no /AUTH/).
    subject = context["endUser"]["subject"]
    assert re.fullmatch(r"v2/iamessage/UNAUTH/NA/uid:[0-9a-f-]{36}", subject), subject
    assert "/AUTH/" not in subject
    assert context["configuration"]["embeddedServiceConfig"]["deploymentType"] == "api"
    # A client reads the lifetime from the JWT itself (guest lifetime undocumented).
    assert _claims(reply.body["accessToken"])["exp"] > time.time()


async def test_token_requests_are_checked(end_user: EndUser, agent: Agent) -> None:
    url = "/authorization/unauthenticated/access-token"
    refused = await end_user.post(url, end_user.token_body(esDeveloperName="No_Such"), {})
    assert refused.status == 400
    assert "No_Such" in refused.body["message"]
    bad_org = await end_user.post(url, end_user.token_body(orgId="00D000000000000"), {})
    assert bad_org.status == 400
    missing = await end_user.post(url, {"orgId": end_user.org.id[:15]}, {})
    assert missing.status == 400
    # Only Custom Client deployments serve the API.
    made = await agent.deployment(apiName="Web_Widget", deploymentType="web")
    assert made.status == 200
    web_widget = await end_user.post(url, end_user.token_body(esDeveloperName="Web_Widget"), {})
    assert web_widget.status == 400
    assert "Custom Client" in web_widget.body["message"]
    # The 18-character org Id is accepted too (UNCONFIRMED on the platform).
    long_id = await end_user.post(url, end_user.token_body(orgId=end_user.org.id), {})
    assert long_id.status == 200


async def test_a_verified_user_token_is_minted_from_a_jwt_checked_against_the_jwks(
    end_user: EndUser, agent: Agent, signing_key: RSAKey, jwks_url: str
) -> None:
    configured = await agent.deployment(
        apiName=end_user.deployment, jwksUrl=jwks_url, issuer=ISSUER, allowGuests=False
    )
    assert configured.status == 200
    assert (await end_user.guest()).status == 401  # verification on: no guests

    reply = await end_user.verified(identity(signing_key))
    assert reply.status == 200, reply.body
    assert end_user.subject == "v2/iamessage/AUTH/OpenCX_Keys/uid:contact-42"
    assert (await end_user.create(ATTRIBUTES)).status == 201


@pytest.mark.parametrize(
    "spoil",
    [
        "other key",
        "other issuer",
        "expired",
        "no sub",
        "HS256",
        "key without x5c",
        "key without alg",
        "certificate ends in 5 days",
        "certificate of another key",
        "alg differs from the key's",
    ],
)
async def test_a_bad_identity_jwt_is_refused(
    end_user: EndUser,
    agent: Agent,
    signing_key: RSAKey,
    served_keys: list[dict[str, Any]],
    jwks_url: str,
    spoil: str,
) -> None:
    await agent.deployment(apiName=end_user.deployment, jwksUrl=jwks_url, issuer=ISSUER)
    if spoil == "other key":
        token = identity(RSAKey.generate_key(2048, parameters={"kid": "opencx-1"}))
    elif spoil == "other issuer":
        token = identity(signing_key, iss="https://evil.example")
    elif spoil == "expired":
        token = identity(signing_key, exp=int(time.time()) - 10)
    elif spoil == "no sub":
        token = identity(signing_key, sub=None)
    elif spoil.startswith("key without"):
        del served_keys[0][spoil.rpartition(" ")[2]]
        token = identity(signing_key)
    elif spoil == "certificate ends in 5 days":
        served_keys[0] = jwk_with_certificate(signing_key, valid_days=5)
        token = identity(signing_key)
    elif spoil == "certificate of another key":
        other = RSAKey.generate_key(2048, parameters={"kid": "opencx-1"})
        served_keys[0]["x5c"] = jwk_with_certificate(other)["x5c"]
        token = identity(signing_key)
    elif spoil == "alg differs from the key's":
        served_keys[0]["alg"] = "RS512"
        token = identity(signing_key)
    else:
        token = jwt.encode({"alg": "HS256"}, {"iss": ISSUER, "sub": "x"}, OctKey.generate_key())
    reply = await end_user.verified(token)
    assert reply.status == 401, reply.body
    assert end_user.token == ""


async def test_continuation_keeps_the_subject_and_expiry_ends_the_token(
    emulator: Emulator, end_user: EndUser
) -> None:
    await end_user.guest()
    assert (await end_user.create(ATTRIBUTES)).status == 201
    continued = await end_user.get("/authorization/continuation-access-token")
    assert continued.status == 200
    old_claims = _claims(end_user.token)
    end_user.token = continued.body["accessToken"]
    new_claims = _claims(end_user.token)
    assert new_claims["sub"] == old_claims["sub"]
    assert new_claims["clientId"] != old_claims["clientId"]
    assert (await end_user.send("still me")).status == 202

    emulator.state.clock.advance(6 * 3600 + 1)
    expired = await end_user.send("too late")
    assert expired.status == 401
    stream = await end_user.open_stream()
    assert stream.status == 401
    stream.release()


async def test_a_revoked_token_stops_working(end_user: EndUser) -> None:
    await end_user.guest()
    assert (await end_user.delete("/authorization/authenticated/access-token")).status == 204
    assert (await end_user.create(ATTRIBUTES)).status == 401


def _claims(token: str) -> dict[str, Any]:
    part = token.split(".")[1]
    return dict(json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))))


async def test_access_tokens_are_limited_to_200_a_minute_per_org(
    emulator: Emulator, end_user: EndUser
) -> None:
    url = "/authorization/unauthenticated/access-token"
    for _ in range(200):
        assert (await end_user.post(url, end_user.token_body(), {})).status == 200
    limited = await end_user.post(url, end_user.token_body(), {})
    assert limited.status == 429
    assert int(limited.headers["Retry-After"]) >= 1
    emulator.state.clock.advance(60)
    assert (await end_user.post(url, end_user.token_body(), {})).status == 200
