"""The browser half of the web server flow: authorize, log in, allow or deny, and
the redirect back, driven through the pages a person sees."""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
from urllib.parse import quote, urlsplit

from conftest import World
from oauth_emulator_support import (
    ADMIN,
    CALLBACK,
    CLIENT_ID,
    CLIENT_SECRET,
    GONE,
    OTHER_CALLBACK,
    app_seed,
    org_seed,
    query_of,
)

TOKEN_KEYS = {
    "access_token",
    "refresh_token",
    "signature",
    "scope",
    "instance_url",
    "id",
    "token_type",
    "issued_at",
}


async def test_happy_path_from_authorize_to_identity(world: World) -> None:
    """help remoteaccess_oauth_web_server_flow.htm and api_rest
    intro_understanding_web_server_oauth_flow.htm: login page, "Allow Access?",
    <redirect_uri>?code=..&state=.., then the documented token JSON (no expires_in),
    then UserInfo and the identity URL with the token."""
    org_id = world.add_org()
    user_id = world.user_id(org_id, ADMIN.username)
    browser = world.browser()

    page = await browser.authorize(state="xyz", scope="api refresh_token")
    login_redirect = next(u for u in browser.visited if "ec=302" in u)
    assert urlsplit(login_redirect).path == "/"
    reader = page.read()
    assert reader.labels["username"] == "Username"
    assert reader.labels["password"] == "Password"
    assert reader.forms["login_form"].buttons["Login"] == ("Login", "Log In")
    assert reader.forms["login_form"].method == "post"

    page = await browser.log_in(page, ADMIN.username, ADMIN.password)
    assert urlsplit(page.url).path == "/setup/secur/RemoteAccessAuthorizationPage.apexp"
    assert "Allow Access?" in page.text
    assert "OpenCX" in page.text and ADMIN.username in page.text
    assert "Manage user data via APIs (api)" in page.text
    assert {"oaapprove", "oadeny"} <= page.read().ids

    page = await browser.submit(page, "approval_form", "oaapprove")
    assert page.status == 302
    assert page.location.startswith(CALLBACK + "?")
    callback = query_of(page.location)
    assert callback["state"] == "xyz"
    assert callback["code"].startswith("aPrx") and callback["code"].endswith("==")

    status, headers, body = await world.tokens.exchange(callback["code"])
    assert status == 200
    assert set(body) == TOKEN_KEYS
    assert "expires_in" not in body
    assert body["token_type"] == "Bearer"
    assert body["scope"] == "api refresh_token"
    assert body["instance_url"] == world.base_url
    assert body["id"] == f"{world.base_url}/id/{org_id}/{user_id}"
    assert re.fullmatch(r"\d{13}", body["issued_at"])
    assert body["access_token"].startswith(org_id[:15] + "!")
    expected = hmac.new(
        CLIENT_SECRET.encode(), (body["id"] + body["issued_at"]).encode(), hashlib.sha256
    ).digest()
    assert body["signature"] == base64.b64encode(expected).decode()
    assert headers["Cache-Control"] == "no-store"

    status, _, text = await world.tokens.get("/services/oauth2/userinfo", body["access_token"])
    assert status == 200
    assert '"preferred_username": "admin@acme.example"' in text
    status, _, text = await world.tokens.get(urlsplit(body["id"]).path, body["access_token"])
    assert status == 200
    assert f'"rest": "{world.base_url}/services/data/v{{version}}/"' in text

    principal = world.auth.validate_bearer(f"Bearer {body['access_token']}")
    assert (principal.org_id, principal.user_id, principal.client_id) == (
        org_id,
        user_id,
        CLIENT_ID,
    )


async def test_state_comes_back_unchanged(world: World) -> None:
    """intro_understanding_web_server_oauth_flow.htm: state "is returned unchanged"
    on the callback, whatever characters it holds."""
    world.add_org()
    state = "a b&c=d/é?%"
    browser = world.browser()
    page = await browser.authorize(state=state)
    page = await browser.log_in(page, ADMIN.username, ADMIN.password)
    page = await browser.submit(page, "approval_form", "oaapprove")
    assert query_of(page.location)["state"] == state


async def test_deny_sends_access_denied_to_the_callback(world: World) -> None:
    """help remoteaccess_oauth_flow_errors.htm: a user who denies access comes back
    with error=access_denied (description as Salesforce's Mobile SDK records it:
    end-user+denied+authorization) and the state."""
    world.add_org()
    browser = world.browser()
    page = await browser.authorize(state="s1")
    page = await browser.log_in(page, ADMIN.username, ADMIN.password)
    page = await browser.submit(page, "approval_form", "oadeny")
    assert page.status == 302
    assert page.location == (
        CALLBACK + "?error=access_denied&error_description=end-user+denied+authorization&state=s1"
    )


async def test_a_remembered_approval_skips_both_pages(world: World) -> None:
    """help remoteaccess_oauth_web_server_flow.htm: a user already logged in who has
    approved the app goes straight back with a code."""
    world.add_org()
    browser = world.browser()
    await world.code_for(browser)
    before = len(browser.visited)
    page = await browser.authorize(state="again")
    assert page.status == 302 and page.location.startswith(CALLBACK)
    assert query_of(page.location)["state"] == "again"
    assert len(browser.visited) == before + 1  # the authorize request, nothing else


async def test_prompt_login_asks_for_the_password_again(world: World) -> None:
    """intro_understanding_web_server_oauth_flow.htm prompt=login: "The
    authorization server must prompt the user for reauthentication"."""
    world.add_org()
    browser = world.browser()
    await world.code_for(browser)
    page = await browser.authorize(prompt="login")
    assert "Login" in page.read().ids
    page = await browser.log_in(page, ADMIN.username, ADMIN.password)
    assert page.status == 302 and "code" in query_of(page.location)


async def test_prompt_consent_shows_the_approval_page_again(world: World) -> None:
    """intro_understanding_web_server_oauth_flow.htm prompt=consent: "The
    authorization server must prompt the user for reapproval"."""
    world.add_org()
    browser = world.browser()
    await world.code_for(browser)
    page = await browser.authorize(prompt="consent")
    assert "oaapprove" in page.read().ids
    page = await browser.submit(page, "approval_form", "oaapprove")
    assert "code" in query_of(page.location)


async def test_prompt_select_account_offers_the_signed_in_user(world: World) -> None:
    """intro_understanding_web_server_oauth_flow.htm prompt=select_account: the
    user chooses an account before continuing."""
    world.add_org()
    browser = world.browser()
    await world.code_for(browser)
    page = await browser.authorize(prompt="select_account")
    assert f"Continue as {ADMIN.username}" in page.text
    page = await browser.submit(page, "chooser", "continue")
    assert page.status == 302 and "code" in query_of(page.location)


async def test_immediate_without_a_session_fails_on_the_callback(world: World) -> None:
    """intro_understanding_web_server_oauth_flow.htm immediate=true: if the user is
    not logged in or has not approved, error=immediate_unsuccessful."""
    world.add_org()
    page = await world.browser().authorize(immediate="true", state="i")
    assert page.status == 302
    query = query_of(page.location)
    assert page.location.startswith(CALLBACK)
    assert (query["error"], query["state"]) == ("immediate_unsuccessful", "i")


async def test_redirect_mismatch_stays_on_the_error_page(world: World) -> None:
    """help remoteaccess_oauth_flow_errors.htm redirect_uri_mismatch: the untrusted
    redirect_uri is never used; the user lands on RemoteAccessErrorPage.apexp."""
    world.add_org()
    browser = world.browser()
    page = await browser.authorize(redirect_uri=OTHER_CALLBACK)
    assert urlsplit(page.url).path == "/setup/secur/RemoteAccessErrorPage.apexp"
    assert not any(url.startswith(OTHER_CALLBACK) for url in browser.visited)
    assert query_of(page.url)["error"] == "redirect_uri_mismatch"
    assert "error=redirect_uri_mismatch&error_description=redirect_uri%20must%20match" in (
        page.text
    )


async def test_unknown_client_shows_client_identifier_invalid(world: World) -> None:
    """Recorded in forcedotcom/postman-salesforce-apis issue 42: an unknown client
    id shows error=invalid_client_id&error_description=client%20identifier%20invalid."""
    world.add_org()
    page = await world.browser().authorize(client_id="3MVG9nobody")
    assert query_of(page.url)["error"] == "invalid_client_id"
    assert "error=invalid_client_id&error_description=client%20identifier%20invalid" in page.text


async def test_a_missing_redirect_uri_is_an_error_page(world: World) -> None:
    """help remoteaccess_oauth_flow_errors.htm: redirect_uri_missing."""
    world.add_org()
    page = await world.browser().go(
        f"/services/oauth2/authorize?response_type=code&client_id={CLIENT_ID}"
    )
    assert query_of(page.url)["error"] == "redirect_uri_missing"


async def test_a_wrong_password_stays_on_the_login_page(world: World) -> None:
    """The login page refuses a wrong password with Salesforce's wording and sets no
    session."""
    world.add_org()
    browser = world.browser()
    page = await browser.authorize()
    page = await browser.log_in(page, ADMIN.username, "not-the-password")
    assert page.status == 200
    assert "Please check your username and password" in page.text
    assert page.read().forms["login_form"].fields["username"] == ADMIN.username
    assert len(browser.session.cookie_jar) == 0


async def test_an_inactive_user_comes_back_with_inactive_user(world: World) -> None:
    """help remoteaccess_oauth_flow_errors.htm: inactive_user."""
    world.add_org()
    browser = world.browser()
    page = await browser.authorize(state="z")
    page = await browser.log_in(page, GONE.username, GONE.password)
    assert page.status == 302
    assert query_of(page.location)["error"] == "inactive_user"
    assert query_of(page.location)["state"] == "z"


async def test_scopes_beyond_the_app_are_refused_and_subsets_granted(world: World) -> None:
    """help remoteaccess_oauth_tokens_scopes.htm: a request gets only scopes the app
    allows; without refresh_token/offline_access there is no refresh token."""
    world.add_org(org_seed(app_seed(scopes=("api", "refresh_token"))))
    page = await world.browser().authorize(scope="api web")
    assert query_of(page.location)["error"] == "invalid_scope"
    body = await world.connect(scope="api")
    assert body["scope"] == "api"
    assert "refresh_token" not in body


async def test_login_page_prefills_login_hint(world: World) -> None:
    """intro_understanding_web_server_oauth_flow.htm login_hint: "a valid username
    value to prepopulate the login page"."""
    world.add_org()
    page = await world.browser().authorize(login_hint=ADMIN.username)
    assert page.read().forms["login_form"].fields["username"] == ADMIN.username


async def test_logout_ends_the_login_session(world: World) -> None:
    """/secur/logout.jsp is Salesforce's logout address (as browser automation uses
    it); after it the next authorize asks for the login again."""
    world.add_org()
    browser = world.browser()
    await world.code_for(browser)
    await browser.go("/secur/logout.jsp")
    page = await browser.authorize()
    assert "Login" in page.read().ids


async def test_a_callback_with_its_own_query_keeps_it(world: World) -> None:
    """RFC 6749 §3.1.2: a redirection URI's own query component is retained when
    the code is added."""
    callback = CALLBACK + "?tenant=7"
    world.add_org(org_seed(app_seed(callback_urls=(callback,))))
    browser = world.browser()
    page = await browser.authorize(redirect_uri=callback)
    page = await browser.log_in(page, ADMIN.username, ADMIN.password)
    page = await browser.submit(page, "approval_form", "oaapprove")
    assert page.location.startswith(callback + "&code=")
    assert quote("==") in page.location
