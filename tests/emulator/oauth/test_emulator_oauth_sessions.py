"""Sessions after the token endpoint: the data API's bearer check, expiry,
revocation, and the identity service (UserInfo and the identity URL)."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import urlsplit

import aiohttp
import pytest
from conftest import World
from oauth_emulator_support import ADMIN, CLIENT_ID, CLIENT_SECRET, REP, app_seed, org_seed

from opencx_salesforce.emulator.cli_config import EmulatorOptions, start_emulator
from opencx_salesforce.emulator.oauth.errors import InvalidSession
from opencx_salesforce.emulator.seed import DEMO_CLIENT_ID, DEMO_CLIENT_SECRET

EXPIRED_BODY = [{"message": "Session expired or invalid", "errorCode": "INVALID_SESSION_ID"}]


def refused(world: World, header: str | None) -> InvalidSession:
    with pytest.raises(InvalidSession) as caught:
        world.auth.validate_bearer(header)
    return caught.value


# --- the data API's check ---------------------------------------------------------------


async def test_a_session_ends_once_unused_for_the_org_session_timeout(world: World) -> None:
    """api_meta meta_error_handling_session_exp.htm: sessions last the session
    timeout, of inactivity: "If you make an API call, the inactivity timer is
    reset to zero" (api sforce_api_concepts_errorhandling.htm); after it the API
    answers 401 [{"message":"Session expired or invalid","errorCode":
    "INVALID_SESSION_ID"}] with WWW-Authenticate: Token (SALESFORCE.md §1)."""
    world.add_org(org_seed(session_timeout=900))
    token = (await world.connect())["access_token"]
    world.state.clock.advance(899)
    assert world.auth.validate_bearer(f"Bearer {token}").access_token == token
    world.state.clock.advance(899)  # 1798 s old, but used 899 s ago
    assert world.auth.validate_bearer(f"Bearer {token}").access_token == token
    world.state.clock.advance(901)
    error = refused(world, f"Bearer {token}")
    assert error.status == 401
    assert error.body == EXPIRED_BODY
    assert error.headers == {"WWW-Authenticate": "Token"}


async def test_expire_access_tokens_forces_invalid_session_but_refresh_works(
    world: World,
) -> None:
    """SALESFORCE.md §10: on INVALID_SESSION_ID a client refreshes and retries."""
    org_id = world.add_org()
    tokens = await world.connect()
    world.auth.expire_access_tokens(org_id)
    assert refused(world, f"Bearer {tokens['access_token']}").body == EXPIRED_BODY
    status, _, body = await world.tokens.refresh(tokens["refresh_token"])
    assert status == 200
    world.auth.validate_bearer(f"Bearer {body['access_token']}")


async def test_header_shapes(world: World) -> None:
    """No header reads as no session (INVALID_SESSION_ID, recorded in
    forcedotcom/postman-salesforce-apis issue 40); another scheme is
    INVALID_AUTH_HEADER / INVALID_HEADER_TYPE (restforce issue 811); "OAuth <token>"
    is accepted like "Bearer <token>" (api_rest quickstart_oauth.htm)."""
    world.add_org()
    token = (await world.connect())["access_token"]
    assert refused(world, None).body == EXPIRED_BODY
    assert refused(world, "").body == EXPIRED_BODY
    for garbled in ("Basic abc", "Bearer", f"Token {token}", f"Bearer {token} extra"):
        assert refused(world, garbled).body == [
            {"message": "INVALID_HEADER_TYPE", "errorCode": "INVALID_AUTH_HEADER"}
        ]
    assert refused(world, "Bearer 00Dnot!real").body == EXPIRED_BODY
    assert world.auth.validate_bearer(f"OAuth {token}").access_token == token


async def test_a_session_without_the_api_scope_is_not_for_rest(world: World) -> None:
    """Recorded in jsforce pull 1301: 401 [{"message":"This session is not valid for
    use with the REST API","errorCode":"INVALID_SESSION_ID"}]."""
    world.add_org(org_seed(app_seed(scopes=("id", "refresh_token"))))
    token = (await world.connect())["access_token"]
    assert refused(world, f"Bearer {token}").body == [
        {
            "message": "This session is not valid for use with the REST API",
            "errorCode": "INVALID_SESSION_ID",
        }
    ]
    assert world.auth.principal_for_token(token) is not None


# --- revocation -------------------------------------------------------------------------


async def test_revoking_a_refresh_token_ends_its_access_tokens(world: World) -> None:
    """mobile-sdk oauth-revoking-tokens.html: revoking a refresh token also revokes
    its access tokens; success is HTTP 200 with an empty body."""
    world.add_org()
    tokens = await world.connect()
    _, _, refreshed = await world.tokens.refresh(tokens["refresh_token"])
    other = await world.connect()
    status, _, body = await world.tokens.post(
        {"token": tokens["refresh_token"]}, path="/services/oauth2/revoke"
    )
    assert (status, body) == (200, None)
    for token in (tokens["access_token"], refreshed["access_token"]):
        assert refused(world, f"Bearer {token}").body == EXPIRED_BODY
    status, _, body = await world.tokens.refresh(tokens["refresh_token"])
    assert body["error"] == "invalid_grant"
    world.auth.validate_bearer(f"Bearer {other['access_token']}")


async def test_revoking_an_access_token_ends_only_that_session(world: World) -> None:
    """mobile-sdk oauth-revoking-tokens.html: an access token is revoked alone; the
    GET ?token= form works too."""
    world.add_org()
    tokens = await world.connect()
    status, _, _ = await world.tokens.get(f"/services/oauth2/revoke?token={tokens['access_token']}")
    assert status == 200
    assert refused(world, f"Bearer {tokens['access_token']}").body == EXPIRED_BODY
    status, _, _ = await world.tokens.refresh(tokens["refresh_token"])
    assert status == 200


async def test_revoking_an_unknown_token_is_invalid_token(world: World) -> None:
    """developer.salesforce.com blogs 2011/11 revoking tokens: errors are HTTP 400
    {"error":"invalid_token"}; a token revoked twice is unknown the second time."""
    world.add_org()
    tokens = await world.connect()
    revoke = "/services/oauth2/revoke"
    await world.tokens.post({"token": tokens["access_token"]}, path=revoke)
    status, _, body = await world.tokens.post({"token": tokens["access_token"]}, path=revoke)
    assert (status, body) == (400, {"error": "invalid_token"})
    status, _, body = await world.tokens.post({}, path=revoke)
    assert (status, body) == (400, {"error": "invalid_token"})


async def test_revoke_all_ends_every_session_and_grant_of_the_org(world: World) -> None:
    """The admin's Revoke on every OAuth connection: nothing issued before works."""
    org_id = world.add_org()
    tokens = await world.connect()
    _, _, machine = await world.tokens.post(
        {"grant_type": "client_credentials", "client_id": CLIENT_ID, "client_secret": CLIENT_SECRET}
    )
    world.auth.revoke_all(org_id)
    for token in (tokens["access_token"], machine["access_token"]):
        assert refused(world, f"Bearer {token}").body == EXPIRED_BODY
    status, _, _ = await world.tokens.refresh(tokens["refresh_token"])
    assert status == 400
    again = await world.connect()
    world.auth.validate_bearer(f"Bearer {again['access_token']}")


# --- the identity service ---------------------------------------------------------------


async def test_userinfo_is_the_documented_document(world: World) -> None:
    """help remoteaccess_using_userinfo_endpoint.htm: sub is the identity URL, plus
    user_id, organization_id, preferred_username, name, email, urls, active,
    user_type ..."""
    org_id = world.add_org()
    tokens = await world.connect()
    status, headers, text = await world.tokens.get(
        "/services/oauth2/userinfo", tokens["access_token"]
    )
    assert status == 200 and headers["Content-Type"].startswith("application/json")
    info = json.loads(text)
    user_id = world.user_id(org_id, ADMIN.username)
    assert info["sub"] == tokens["id"]
    assert (info["user_id"], info["organization_id"]) == (user_id, org_id)
    assert info["preferred_username"] == ADMIN.username
    assert (info["given_name"], info["family_name"], info["name"]) == ("Ada", "Admin", "Ada Admin")
    assert info["email"] == ADMIN.email
    assert info["active"] is True and info["user_type"] == "STANDARD"
    assert info["urls"]["rest"] == f"{world.base_url}/services/data/v{{version}}/"


async def test_identity_url_and_its_version_parameter(world: World) -> None:
    """mobile-sdk oauth-using-identity-urls.html: the identity URL answers with the
    user's details; urls hold {version} unless ?version=latest or a number names it."""
    org_id = world.add_org()
    tokens = await world.connect()
    path = urlsplit(tokens["id"]).path
    status, _, text = await world.tokens.get(path, tokens["access_token"])
    doc = json.loads(text)
    assert status == 200
    assert doc["id"] == tokens["id"]
    assert doc["asserted_user"] is True
    assert doc["username"] == ADMIN.username and doc["display_name"] == "Ada Admin"
    assert doc["urls"]["query"] == f"{world.base_url}/services/data/v{{version}}/query/"
    _, _, text = await world.tokens.get(path + "?version=latest", tokens["access_token"])
    assert json.loads(text)["urls"]["rest"] == f"{world.base_url}/services/data/v62.0/"
    _, _, text = await world.tokens.get(path + "?version=58.0", tokens["access_token"])
    assert json.loads(text)["urls"]["rest"] == f"{world.base_url}/services/data/v58.0/"
    rep_path = f"/id/{org_id}/{world.user_id(org_id, REP.username)}"
    _, _, text = await world.tokens.get(rep_path, tokens["access_token"])
    assert json.loads(text)["asserted_user"] is False
    assert json.loads(text)["username"] == REP.username


async def test_identity_refusals_are_plain_words(world: World) -> None:
    """drupal.org salesforce issue 3191597 (recorded): a bad token at the identity URL
    is 403 with the body Bad_OAuth_Token; no token, another org's URL and an
    unknown user follow the identity URL page's list."""
    world.add_org()
    other_org = world.add_org(org_seed(app_seed(client_id="3MVG9second", client_secret="second")))
    tokens = await world.connect()
    path = urlsplit(tokens["id"]).path
    status, headers, text = await world.tokens.get(path, "00Dbogus!token")
    assert (status, text) == (403, "Bad_OAuth_Token")
    assert headers["Content-Type"].startswith("text/plain")
    status, _, text = await world.tokens.get("/services/oauth2/userinfo", "00Dbogus!token")
    assert (status, text) == (403, "Bad_OAuth_Token")
    status, _, text = await world.tokens.get(path)
    assert (status, text) == (403, "Missing_OAuth_Token")
    other_user = world.user_id(other_org, ADMIN.username)
    status, _, text = await world.tokens.get(
        f"/id/{other_org}/{other_user}", tokens["access_token"]
    )
    assert (status, text) == (403, "Wrong_Org")
    org_id = path.split("/")[2]
    status, _, text = await world.tokens.get(
        f"/id/{org_id}/005000000000000AAA", tokens["access_token"]
    )
    assert (status, text) == (404, "Bad_Id")


async def test_userinfo_reads_the_oauth_token_parameter(world: World) -> None:
    """help remoteaccess_using_userinfo_endpoint.htm: the token may come as the
    oauth_token parameter instead of the header."""
    world.add_org()
    tokens = await world.connect()
    status, _, text = await world.tokens.get(
        f"/services/oauth2/userinfo?oauth_token={tokens['access_token']}"
    )
    assert status == 200 and json.loads(text)["preferred_username"] == ADMIN.username


async def test_a_client_credentials_token_times_out_like_any_session() -> None:
    # --session-timeout's help said "access token lifetime"; Salesforce's
    # session timeout counts inactivity, for every grant (oauth/store.py
    # AccessToken): a token in use lives on, one left 61 s unused is refused.
    emulator, org = await start_emulator(EmulatorOptions(session_timeout=60))
    try:
        async with aiohttp.ClientSession() as http:
            async with http.post(
                f"{emulator.base_url}/services/oauth2/token",
                data={
                    "grant_type": "client_credentials",
                    "client_id": DEMO_CLIENT_ID,
                    "client_secret": DEMO_CLIENT_SECRET,
                },
            ) as answer:
                assert answer.status == 200
                token = (await answer.json())["access_token"]

            async def limits() -> tuple[int, Any]:
                async with http.get(
                    f"{emulator.base_url}/services/data/v62.0/limits",
                    headers={"Authorization": f"Bearer {token}"},
                ) as answer:
                    return answer.status, await answer.json()

            for _ in range(3):  # 50, 100, 150 s after issue, each within 60 s of the last
                org.state.clock.advance(50)
                assert (await limits())[0] == 200
            org.state.clock.advance(61)
            assert await limits() == (401, EXPIRED_BODY)
    finally:
        await emulator.close()
