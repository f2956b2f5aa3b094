"""POST /services/oauth2/token: the authorization code, refresh token and client
credentials grants, their refusals, and the order the checks run in."""

from __future__ import annotations

import asyncio
import base64
import json

from conftest import World
from oauth_emulator_support import (
    ADMIN,
    CALLBACK,
    CLIENT_ID,
    CLIENT_SECRET,
    OTHER_CALLBACK,
    REP,
    app_seed,
    org_seed,
    pkce_pair,
    query_of,
)

from opencx_salesforce.emulator.oauth.errors import InvalidSession


def error_of(body: dict[str, str]) -> tuple[str, str]:
    return body["error"], body["error_description"]


# --- PKCE -------------------------------------------------------------------------------


async def test_pkce_verifier_that_matches_gets_tokens(world: World) -> None:
    """intro_understanding_web_server_oauth_flow.htm: code_challenge at authorize,
    the code_verifier it hashes at the token request."""
    world.add_org()
    verifier, challenge = pkce_pair()
    code = await world.code_for(world.browser(), code_challenge=challenge)
    status, _, body = await world.tokens.exchange(code, code_verifier=verifier)
    assert status == 200 and body["access_token"]


async def test_pkce_verifier_that_does_not_match_is_invalid_request(world: World) -> None:
    """intro_understanding_web_server_oauth_flow.htm (ja-jp 224.0): a mismatched
    code_verifier is invalid_request."""
    world.add_org()
    _, challenge = pkce_pair()
    other_verifier, _ = pkce_pair()
    code = await world.code_for(world.browser(), code_challenge=challenge)
    status, _, body = await world.tokens.exchange(code, code_verifier=other_verifier)
    assert status == 400
    assert body["error"] == "invalid_request"


async def test_pkce_verifier_missing_is_invalid_grant(world: World) -> None:
    """intro_understanding_web_server_oauth_flow.htm (ja-jp 224.0): a code_challenge
    at authorize and no code_verifier at the token request is invalid_grant."""
    world.add_org()
    _, challenge = pkce_pair()
    code = await world.code_for(world.browser(), code_challenge=challenge)
    status, _, body = await world.tokens.exchange(code)
    assert status == 400
    assert body["error"] == "invalid_grant"


# --- codes ------------------------------------------------------------------------------


async def test_a_code_works_once(world: World) -> None:
    """Codes are single-use; a reused code is refused with "expired authorization
    code", as recorded in omniphx/forrest issue 169."""
    world.add_org()
    code = await world.code_for(world.browser())
    first, _, _ = await world.tokens.exchange(code)
    status, headers, body = await world.tokens.exchange(code)
    assert first == 200
    assert status == 400
    assert error_of(body) == ("invalid_grant", "expired authorization code")
    assert headers["Cache-Control"] == "no-store"
    assert headers["Content-Type"].startswith("application/json")


async def test_a_code_expires(world: World) -> None:
    """Codes are short-lived (15 minutes here; Salesforce does not document the
    lifetime — SALESFORCE.md §10)."""
    world.add_org()
    code = await world.code_for(world.browser())
    world.state.clock.advance(15 * 60 + 1)
    status, _, body = await world.tokens.exchange(code)
    assert status == 400
    assert error_of(body) == ("invalid_grant", "expired authorization code")


async def test_a_code_within_its_lifetime_still_works(world: World) -> None:
    """The other side of the expiry: just under 15 minutes is fine."""
    world.add_org()
    code = await world.code_for(world.browser())
    world.state.clock.advance(15 * 60 - 5)
    status, _, _ = await world.tokens.exchange(code)
    assert status == 200


async def test_a_made_up_code_with_the_right_id_and_secret_is_invalid_grant(
    world: World,
) -> None:
    """RFC 6749 §4.1.3: the client is authenticated before the code is checked, so a
    right Client ID and Secret with a code never issued get invalid_grant "invalid
    authorization code" (SALESFORCE.md §1 wording). The plugin's credential check
    relies on this."""
    world.add_org()
    status, _, body = await world.tokens.exchange("aPrxMadeUpCode==")
    assert status == 400
    assert error_of(body) == ("invalid_grant", "invalid authorization code")


async def test_checks_run_client_id_then_secret_then_grant(world: World) -> None:
    """token_endpoint.py docstring: grant_type, client id, client secret, then the
    grant; each refusal names the first thing that is wrong."""
    world.add_org()
    bogus = {
        "grant_type": "authorization_code",
        "code": "aPrxMadeUp==",
        "redirect_uri": CALLBACK,
    }
    _, _, unknown = await world.tokens.post(
        {**bogus, "client_id": "3MVG9nobody", "client_secret": "wrong"}
    )
    _, _, bad_secret = await world.tokens.post(
        {**bogus, "client_id": CLIENT_ID, "client_secret": "wrong"}
    )
    _, _, no_secret = await world.tokens.post({**bogus, "client_id": CLIENT_ID})
    _, _, bad_grant = await world.tokens.post(
        {**bogus, "client_id": "3MVG9nobody", "grant_type": "password"}
    )
    assert error_of(unknown) == ("invalid_client_id", "client identifier invalid")
    assert error_of(bad_secret) == ("invalid_client", "invalid client credentials")
    assert error_of(no_secret) == ("invalid_client", "invalid client credentials")
    assert error_of(bad_grant) == ("unsupported_grant_type", "grant type not supported")


async def test_a_body_that_is_not_form_encoded_has_no_grant_type(world: World) -> None:
    """stackoverflow.com/questions/10890467: without the form Content-Type the
    token endpoint answers unsupported_grant_type "grant type not supported"."""
    world.add_org()
    form = {"grant_type": "client_credentials", "client_id": CLIENT_ID}
    async with world.http.post(
        f"{world.base_url}/services/oauth2/token",
        data=json.dumps({**form, "client_secret": CLIENT_SECRET}),
        headers={"Content-Type": "application/json"},
    ) as response:
        body = await response.json()
    assert response.status == 400
    assert error_of(body) == ("unsupported_grant_type", "grant type not supported")


async def test_client_credentials_may_come_as_http_basic(world: World) -> None:
    """SALESFORCE.md §1: client_id/secret may go in Authorization: Basic."""
    world.add_org()
    basic = base64.b64encode(f"{CLIENT_ID}:{CLIENT_SECRET}".encode()).decode()
    status, _, body = await world.tokens.post(
        {"grant_type": "client_credentials"}, headers={"Authorization": f"Basic {basic}"}
    )
    assert status == 200 and body["access_token"]
    wrong = base64.b64encode(f"{CLIENT_ID}:nope".encode()).decode()
    status, _, body = await world.tokens.post(
        {"grant_type": "client_credentials"}, headers={"Authorization": f"Basic {wrong}"}
    )
    assert error_of(body) == ("invalid_client", "invalid client credentials")


async def test_the_token_request_redirect_uri_must_be_configured_and_match(
    world: World,
) -> None:
    """SALESFORCE.md §1: redirect_uri_mismatch "redirect_uri must match configuration";
    the code is bound to the redirect_uri of its authorize request."""
    world.add_org(org_seed(app_seed(callback_urls=(CALLBACK, OTHER_CALLBACK))))
    code = await world.code_for(world.browser())
    status, _, body = await world.tokens.exchange(code, redirect_uri="https://evil.example/cb")
    assert error_of(body) == ("redirect_uri_mismatch", "redirect_uri must match configuration")
    status, _, body = await world.tokens.exchange(code, redirect_uri=OTHER_CALLBACK)
    assert status == 400 and body["error"] == "redirect_uri_mismatch"
    status, _, _ = await world.tokens.exchange(code)
    assert status == 200


async def test_a_code_is_bound_to_its_client(world: World) -> None:
    """RFC 6749 §4.1.3: a code issued to one client is not valid for another."""
    other = app_seed(client_id="3MVG9test.client.two", client_secret="two", name="Other")
    world.add_org(org_seed(app_seed(), other))
    code = await world.code_for(world.browser())
    status, _, body = await world.tokens.exchange(
        code, client_id=other.client_id, client_secret="two"
    )
    assert status == 400
    assert error_of(body) == ("invalid_grant", "invalid authorization code")


async def test_format_urlencoded(world: World) -> None:
    """SALESFORCE.md §1: format=urlencoded answers form-encoded."""
    world.add_org()
    async with world.http.post(
        f"{world.base_url}/services/oauth2/token",
        data={
            "grant_type": "client_credentials",
            "client_id": CLIENT_ID,
            "client_secret": CLIENT_SECRET,
            "format": "urlencoded",
        },
    ) as response:
        text = await response.text()
    assert response.content_type == "application/x-www-form-urlencoded"
    assert "access_token=" in text and "token_type=Bearer" in text


# --- refresh ----------------------------------------------------------------------------


async def test_refresh_without_rotation_keeps_the_refresh_token(world: World) -> None:
    """api_rest intro_understanding_refresh_token_oauth.htm: the refresh response has
    no refresh_token; the same refresh token keeps working."""
    world.add_org()
    first = await world.connect()
    status, _, refreshed = await world.tokens.refresh(first["refresh_token"])
    assert status == 200
    assert set(refreshed) == {
        "access_token",
        "signature",
        "scope",
        "instance_url",
        "id",
        "token_type",
        "issued_at",
    }
    assert refreshed["access_token"] != first["access_token"]
    status, _, again = await world.tokens.refresh(first["refresh_token"])
    assert status == 200
    assert "refresh_token" not in again
    assert again["access_token"] not in (first["access_token"], refreshed["access_token"])
    # The first access token is still a session until its own timeout.
    world.auth.validate_bearer(f"Bearer {first['access_token']}")


async def test_refresh_with_rotation_retires_the_old_refresh_token(world: World) -> None:
    """help remoteaccess_oauth_refresh_token_flow.htm: with refresh token rotation
    each refresh returns a new refresh token and the previous one stops working."""
    world.add_org(org_seed(app_seed(rotate_refresh_tokens=True)))
    first = await world.connect()
    status, _, rotated = await world.tokens.refresh(first["refresh_token"])
    assert status == 200
    assert rotated["refresh_token"] != first["refresh_token"]
    status, _, body = await world.tokens.refresh(first["refresh_token"])
    assert status == 400
    assert error_of(body) == ("invalid_grant", "expired access/refresh token")
    status, _, _ = await world.tokens.refresh(rotated["refresh_token"])
    assert status == 200


async def test_refresh_secret_is_optional_but_checked(world: World) -> None:
    """api_rest intro_understanding_refresh_token_oauth.htm: client_secret is
    optional in the refresh request; a wrong one is refused."""
    world.add_org()
    first = await world.connect()
    form = {"grant_type": "refresh_token", "refresh_token": first["refresh_token"]}
    status, _, _ = await world.tokens.post({**form, "client_id": CLIENT_ID})
    assert status == 200
    status, _, body = await world.tokens.post(
        {**form, "client_id": CLIENT_ID, "client_secret": "wrong"}
    )
    assert error_of(body) == ("invalid_client", "invalid client credentials")


async def test_an_unknown_refresh_token_is_expired(world: World) -> None:
    """help remoteaccess_oauth_flow_errors.htm: "expired access/refresh token"."""
    world.add_org()
    status, _, body = await world.tokens.refresh("5Aep861NotARealToken")
    assert status == 400
    assert error_of(body) == ("invalid_grant", "expired access/refresh token")


async def test_a_sixth_grant_revokes_the_oldest(world: World) -> None:
    """help "Manage OAuth Access for Your Connected Apps": five approvals per user per
    app; a sixth revokes the oldest."""
    world.add_org()
    browser = world.browser()
    grants = [await world.connect(browser) for _ in range(6)]
    status, _, body = await world.tokens.refresh(grants[0]["refresh_token"])
    assert (status, body["error"]) == (400, "invalid_grant")
    for grant in grants[1:]:
        status, _, _ = await world.tokens.refresh(grant["refresh_token"])
        assert status == 200


# --- client credentials -----------------------------------------------------------------


async def test_client_credentials_runs_as_the_run_as_user(world: World) -> None:
    """help remoteaccess_oauth_client_credentials_flow.htm: the token runs as the
    app's "Run As" user and there is no refresh token."""
    org_id = world.add_org(org_seed(app_seed(client_credentials_user=REP.username)))
    status, _, body = await world.tokens.post(
        {"grant_type": "client_credentials", "client_id": CLIENT_ID, "client_secret": CLIENT_SECRET}
    )
    assert status == 200
    assert "refresh_token" not in body
    assert body["id"].endswith(f"/id/{org_id}/{world.user_id(org_id, REP.username)}")
    principal = world.auth.validate_bearer(f"Bearer {body['access_token']}")
    assert principal.user_id == world.user_id(org_id, REP.username)


async def test_client_credentials_without_a_run_as_user(world: World) -> None:
    """Recorded {"error":"invalid_grant","error_description":"no client credentials
    user enabled"} when the app has no Run As user."""
    world.add_org(org_seed(app_seed(client_credentials_user=None)))
    status, _, body = await world.tokens.post(
        {"grant_type": "client_credentials", "client_id": CLIENT_ID, "client_secret": CLIENT_SECRET}
    )
    assert status == 400
    assert error_of(body) == ("invalid_grant", "no client credentials user enabled")


# --- apps still propagating, realms -----------------------------------------------------


async def test_an_app_still_activating_is_an_unknown_client(world: World) -> None:
    """pozil/salesforce-react-integration issue 15 (Salesforce developer advocate): a
    new app takes 5–10 minutes and meanwhile answers "client identifier invalid"
    — the same as an unknown key, at the token endpoint and at authorize."""
    world.add_org(org_seed(app_seed(activation_delay=300)))
    form = {
        "grant_type": "client_credentials",
        "client_id": CLIENT_ID,
        "client_secret": CLIENT_SECRET,
    }
    status, _, body = await world.tokens.post(form)
    assert error_of(body) == ("invalid_client_id", "client identifier invalid")
    page = await world.browser().authorize()
    assert "error=invalid_client_id" in page.url
    world.state.clock.advance(301)
    status, _, body = await world.tokens.post(form)
    assert status == 200


async def test_an_app_added_at_run_time_activates_from_then(world: World) -> None:
    """add_app: the activation delay counts from when the app is created."""
    org_id = world.add_org()
    world.state.clock.advance(3600)
    late = app_seed(client_id="3MVG9late", client_secret="late", activation_delay=120)
    world.auth.add_app(org_id, late)
    form = {"grant_type": "client_credentials", "client_id": "3MVG9late", "client_secret": "late"}
    status, _, body = await world.tokens.post(form)
    assert body["error"] == "invalid_client_id"
    world.state.clock.advance(121)
    status, _, body = await world.tokens.post(form)
    assert status == 200


async def test_sandbox_apps_are_unknown_at_the_production_login_host(world: World) -> None:
    """api_rest intro_understanding_web_server_oauth_flow.htm: sandboxes log in at
    test.salesforce.com; a key used at the wrong host is "client identifier invalid"
    (forcedotcom/postman-salesforce-apis issue 42)."""
    sandbox_id = world.add_org(org_seed(is_sandbox=True))
    form = {
        "grant_type": "client_credentials",
        "client_id": CLIENT_ID,
        "client_secret": CLIENT_SECRET,
    }
    status, _, body = await world.tokens.post(form)
    assert error_of(body) == ("invalid_client_id", "client identifier invalid")
    status, _, body = await world.tokens.post(form, prefix="/sandbox")
    assert status == 200
    assert body["id"].startswith(f"{world.base_url}/sandbox/id/{sandbox_id}/")
    assert body["instance_url"] == world.base_url


async def test_production_apps_are_unknown_at_the_sandbox_login_host(world: World) -> None:
    """The reverse mix-up: a production app's key at test.salesforce.com."""
    world.add_org()
    page = await world.browser().authorize(prefix="/sandbox")
    assert "/sandbox/setup/secur/RemoteAccessErrorPage.apexp" in page.url
    assert "error=invalid_client_id" in page.url


async def test_the_sandbox_web_server_flow(world: World) -> None:
    """The whole flow at the sandbox login host."""
    world.add_org(org_seed(is_sandbox=True))
    browser = world.browser()
    code = await world.code_for(browser, prefix="/sandbox")
    status, _, body = await world.tokens.exchange(code, prefix="/sandbox")
    assert status == 200
    assert "/sandbox/id/" in body["id"]
    status, _, _ = await world.tokens.exchange(code)
    assert status == 400


# --- who may get tokens -----------------------------------------------------------------


async def test_admin_approved_apps_refuse_users_not_approved(world: World) -> None:
    """Recorded in forcedotcom/cli issue 3260: the code exchange fails with
    invalid_app_access "user is not admin approved to access this app"; approved
    users see no approval page (help connected_app_manage_oauth.htm)."""
    world.add_org(org_seed(app_seed(admin_approved_users=(ADMIN.username,))))
    browser = world.browser()
    page = await browser.authorize()
    page = await browser.log_in(page, ADMIN.username, ADMIN.password)
    assert page.status == 302 and page.location.startswith(CALLBACK)
    status, _, _ = await world.tokens.exchange(query_of(page.location)["code"])
    assert status == 200

    other = world.browser()
    code = await world.code_for(other, REP)
    status, _, body = await world.tokens.exchange(code)
    assert status == 400
    assert error_of(body) == ("invalid_app_access", "user is not admin approved to access this app")


async def test_a_deactivated_user_can_no_longer_refresh(world: World) -> None:
    """Recorded in restforce/restforce issue 303: "invalid_grant: inactive user";
    the user's sessions end at once."""
    org_id = world.add_org()
    tokens = await world.connect()
    world.auth.set_user_active(org_id, ADMIN.username, False)
    status, _, body = await world.tokens.refresh(tokens["refresh_token"])
    assert error_of(body) == ("invalid_grant", "inactive user")
    try:
        world.auth.validate_bearer(f"Bearer {tokens['access_token']}")
    except InvalidSession as error:
        assert error.body[0]["errorCode"] == "INVALID_SESSION_ID"
    else:
        raise AssertionError("a deactivated user's session still worked")
    world.auth.set_user_active(org_id, ADMIN.username, True)
    status, _, _ = await world.tokens.refresh(tokens["refresh_token"])
    assert status == 200


# --- counters ---------------------------------------------------------------------------


async def test_counters_count_requests_per_client_and_grant(world: World) -> None:
    """Tests read the counters to prove, e.g., that concurrent callers caused one
    refresh: every request is counted, and the ones answered with a token."""
    world.add_org()
    tokens = await world.connect()
    refreshes = [world.tokens.refresh(tokens["refresh_token"]) for _ in range(200)]
    await asyncio.gather(*refreshes)
    await world.tokens.refresh("5Aep861nope")
    counters = world.auth.counters
    assert counters.count_requests(CLIENT_ID, "refresh_token") == 201
    assert counters.count_issued(CLIENT_ID, "refresh_token") == 200
    assert counters.count_requests(CLIENT_ID, "authorization_code") == 1
    assert counters.count_requests(grant_type="client_credentials") == 0
