"""Connect: the OAuth web server flow through the settings page and the
emulator's sign-in pages, in the popup and the same-window variants, and every
way the callback can fail."""

from __future__ import annotations

import json
import time
from urllib.parse import parse_qs, urlencode, urlsplit

import aiohttp
import pytest
from admin_support import (
    ADMIN_PATH,
    PREFIX,
    AdminBrowser,
    Page,
    Stack,
    connect_through_page,
    csrf_token_in,
    sign_in_on_salesforce,
    text_of,
)

from opencx_salesforce.salesforce.errors import NeedsReauthorization
from opencx_salesforce.salesforce.oauth import OAuthClient
from opencx_salesforce.salesforce.oauth_hints import OAUTH_ERROR_HINTS
from opencx_salesforce.salesforce.tokens import ConnectionState

CALLBACK = f"{PREFIX}/oauth/callback"


async def saved(stack: Stack) -> tuple[AdminBrowser, Page]:
    browser = await stack.signed_in()
    page = await browser.get(ADMIN_PATH)
    page = await browser.submit(page, "/admin/credentials", stack.credentials_form())
    assert "Credentials saved" in text_of(page.text)
    return browser, page


async def start_connect(browser: AdminBrowser, page: Page, **extra: str) -> str:
    """Click Connect with JavaScript off: the answer is a 303 to Salesforce."""
    answer = await browser.submit(page, "/admin/connect", extra, follow=False)
    assert answer.status == 303, answer.text
    return answer.headers["Location"]


async def callback_url(stack: Stack, browser: AdminBrowser, page: Page, **extra: str) -> str:
    authorize = await start_connect(browser, page, **extra)
    assert authorize.startswith(stack.login_url + "/services/oauth2/authorize?")
    back = await sign_in_on_salesforce(browser.session, authorize)
    assert back.startswith(stack.redirect_uri + "?"), back
    return back


# --- success ---------------------------------------------------------------------------


async def test_connect_without_javascript_comes_back_to_the_settings_page(stack: Stack) -> None:
    browser, page = await saved(stack)
    authorize = await start_connect(browser, page)
    query = parse_qs(urlsplit(authorize).query)
    assert query["redirect_uri"] == [stack.redirect_uri]
    assert query["response_type"] == ["code"]
    assert query["code_challenge_method"] == ["S256"]
    assert set(query["scope"][0].split()) == {"full", "refresh_token", "offline_access"}

    back = await sign_in_on_salesforce(browser.session, authorize)
    landed = await browser.get(back)
    assert urlsplit(landed.url).path == ADMIN_PATH
    assert parse_qs(urlsplit(landed.url).query) == {"notice": ["connected"]}
    text = text_of(landed.text)
    assert "Connected as Ada Admin (admin@acme.example) to org 00D" in text
    assert stack.login_url in text  # the instance URL
    assert stack.runtime.webhook_url in landed.text
    assert "Download Salesforce package" in text
    status = await stack.runtime.tokens.status()
    assert status.state is ConnectionState.CONNECTED
    assert status.username == "admin@acme.example"


async def test_connect_in_the_popup_gets_a_json_url_and_a_closing_page(stack: Stack) -> None:
    browser, page = await saved(stack)
    answer = await browser.post(
        PREFIX + "/admin/connect",
        {"csrf_token": csrf_token_in(page.text)},
        headers={"Accept": "application/json"},
    )
    assert answer.status == 200
    url = json.loads(answer.text)["url"]
    back = await sign_in_on_salesforce(browser.session, url)
    done = await browser.get(back)
    assert done.status == 200
    assert urlsplit(done.url).path == CALLBACK  # the popup's page, not a redirect
    assert 'data-outcome="connected"' in done.text
    assert "callback.js" in done.text  # reloads the opener and closes the popup
    assert "Connected as Ada Admin" in text_of(done.text)
    assert (await stack.runtime.tokens.status()).state is ConnectionState.CONNECTED


async def test_a_blocked_popup_falls_back_to_the_same_window_and_says_why(stack: Stack) -> None:
    browser, page = await saved(stack)
    back = await callback_url(stack, browser, page, popup="blocked")
    landed = await browser.get(back)
    assert urlsplit(landed.url).path == ADMIN_PATH
    text = text_of(landed.text)
    assert "Popup blocked" in text
    assert "blocked the Salesforce sign-in window" in text
    assert "Connected as Ada Admin" in text


async def test_connect_before_saving_credentials_says_to_save_them(stack: Stack) -> None:
    browser = await stack.signed_in()
    page = await browser.get(ADMIN_PATH)
    refused = await browser.submit(page, "/admin/connect")
    assert refused.status == 409
    assert "Save the credentials first" in text_of(refused.text)


# --- the state: single use, expiring, unforgeable ---------------------------------------


async def test_a_replayed_callback_is_refused_and_changes_nothing(stack: Stack) -> None:
    browser, page = await saved(stack)
    back = await callback_url(stack, browser, page)
    await browser.get(back)
    first = await stack.runtime.tokens.status()
    assert first.state is ConnectionState.CONNECTED

    replay = await browser.get(back)
    assert replay.status == 400
    text = text_of(replay.text)
    assert "Connect fails" in text
    assert "This sign-in link expired or was already used" in text
    assert await stack.runtime.tokens.status() == first


async def test_a_forged_state_is_refused_and_the_real_one_still_works(stack: Stack) -> None:
    browser, page = await saved(stack)
    back = await callback_url(stack, browser, page)
    query = parse_qs(urlsplit(back).query)
    state = query["state"][0]
    # One character changed (never to itself: a state may well start with "x").
    other = ("y" if state[0] == "x" else "x") + state[1:]
    forged = f"{stack.redirect_uri}?" + urlencode({"code": query["code"][0], "state": other})
    refused = await browser.get(forged)
    assert refused.status == 400
    assert "expired or was already used" in text_of(refused.text)
    assert (await stack.runtime.tokens.status()).state is ConnectionState.CREDENTIALS_SAVED

    landed = await browser.get(back)
    assert "Connected as Ada Admin" in text_of(landed.text)


async def test_a_state_older_than_ten_minutes_is_refused(
    stack: Stack, monkeypatch: pytest.MonkeyPatch
) -> None:
    browser, page = await saved(stack)
    back = await callback_url(stack, browser, page)

    class Later:
        """The store's clock, eleven minutes on."""

        @staticmethod
        def time() -> float:
            return real_time() + 660.0

    real_time = time.time
    monkeypatch.setattr("opencx_salesforce.store.memory.time", Later)
    expired = await browser.get(back)
    assert expired.status == 400
    assert "This sign-in link expired or was already used" in text_of(expired.text)
    assert (await stack.runtime.tokens.status()).state is ConnectionState.CREDENTIALS_SAVED


# --- errors Salesforce reports on the callback ----------------------------------------------


async def test_deny_on_salesforce_explains_and_links_back(stack: Stack) -> None:
    browser, page = await saved(stack)
    authorize = await start_connect(browser, page)
    back = await sign_in_on_salesforce(browser.session, authorize, allow=False)
    assert parse_qs(urlsplit(back).query)["error"][0] in ("access_denied", "access-denied")
    failed = await browser.get(back)
    assert failed.status == 400
    text = text_of(failed.text)
    assert "Connect fails" in text
    assert "Access was not allowed" in text
    assert OAUTH_ERROR_HINTS["access_denied"] in text
    assert f'href="{ADMIN_PATH}"' in failed.text
    assert (await stack.runtime.tokens.status()).state is ConnectionState.CREDENTIALS_SAVED
    # The denied sign-in's link is spent: sent again with a code, it is not traded.
    state = parse_qs(urlsplit(back).query)["state"][0]
    replay = await browser.get(f"{stack.redirect_uri}?code=made-up&state={state}")
    assert replay.status == 400
    assert "This sign-in link expired or was already used" in text_of(replay.text)


@pytest.mark.parametrize(
    ("error", "symptom", "hint"),
    [
        ("access-denied", "Connect fails", OAUTH_ERROR_HINTS["access_denied"]),
        ("redirect_uri_mismatch", "Callback mismatch", OAUTH_ERROR_HINTS["redirect_uri_mismatch"]),
        ("invalid_client_id", "Connect fails", "takes up to 10 minutes"),
        ("invalid_scope", "Connect fails", OAUTH_ERROR_HINTS["invalid_scope"]),
        ("invalid_app_access", "Connect fails", OAUTH_ERROR_HINTS["invalid_app_access"]),
        ("something_new", "Connect fails", "check the Connected App's OAuth settings"),
    ],
)
async def test_each_callback_error_gets_its_hint(
    stack: Stack, error: str, symptom: str, hint: str
) -> None:
    browser, page = await saved(stack)
    state = parse_qs(urlsplit(await start_connect(browser, page)).query)["state"][0]
    failed = await browser.get(
        f"{CALLBACK}?"
        + urlencode({"error": error, "error_description": "as Salesforce said", "state": state})
    )
    assert failed.status == 400
    text = text_of(failed.text)
    assert symptom in text
    assert hint in text
    assert "as Salesforce said" in text
    assert f'href="{ADMIN_PATH}"' in failed.text
    if error == "redirect_uri_mismatch":
        assert f"This plugin's is {stack.redirect_uri}" in text


@pytest.mark.parametrize("state", ["", "never-issued"])
async def test_an_error_for_no_sign_in_of_ours_does_not_show_its_words(
    stack: Stack, state: str
) -> None:
    """Anyone can make a link to the callback with an error and words of their
    own: shown on the host's page, they lent it to a phishing message."""
    browser, _ = await saved(stack)
    lure = "Your session expired. Re-enter your admin token at https://evil.example"
    query = {"error": "access_denied", "error_description": lure, "state": state}
    failed = await browser.get(f"{CALLBACK}?" + urlencode({k: v for k, v in query.items() if v}))
    assert failed.status == 400
    text = text_of(failed.text)
    assert "evil.example" not in failed.text
    assert "This sign-in link expired or was already used" in text


async def test_a_code_salesforce_never_issued_is_an_invalid_grant(stack: Stack) -> None:
    browser, page = await saved(stack)
    authorize = await start_connect(browser, page)
    state = parse_qs(urlsplit(authorize).query)["state"][0]
    failed = await browser.get(f"{CALLBACK}?" + urlencode({"code": "made-up", "state": state}))
    assert failed.status == 400
    text = text_of(failed.text)
    assert "Salesforce refused the sign-in" in text
    assert "invalid_grant" in text
    assert "Click Connect again" in text


async def test_a_callback_without_code_or_state_says_where_to_start(stack: Stack) -> None:
    browser, _ = await saved(stack)
    failed = await browser.get(CALLBACK)
    assert failed.status == 400
    assert "click Connect to Salesforce" in text_of(failed.text)


async def test_salesforces_error_text_cannot_inject_markup(stack: Stack) -> None:
    browser, page = await saved(stack)
    state = parse_qs(urlsplit(await start_connect(browser, page)).query)["state"][0]
    said = {"error": "<b>x</b>", "error_description": "<script>alert(1)</script>"}
    failed = await browser.get(f"{CALLBACK}?" + urlencode({**said, "state": state}))
    assert "<script>alert(1)</script>" not in failed.text
    assert "&lt;script&gt;" in failed.text
    assert "<b>x</b>" not in failed.text


async def test_a_revoked_grant_shows_needs_reauthorization_until_connected_again(
    stack: Stack,
) -> None:
    browser, page = await connect_through_page(stack)
    grant = await stack.runtime.tokens.access_token()
    assert grant.refresh_token
    # Someone revokes the app's access in Salesforce; the next refresh finds out.
    async with aiohttp.ClientSession() as http:
        await OAuthClient(http).revoke(stack.login_url, grant.refresh_token)
    with pytest.raises(NeedsReauthorization):
        await stack.runtime.tokens.refresh(grant.access_token)

    page = await browser.get(ADMIN_PATH)
    text = text_of(page.text)
    assert "Needs re-authorization" in text
    assert "The refresh token was revoked or has expired" in text  # the reason
    assert "Click Connect again" in text
    assert "Reconnect to Salesforce" in text
    assert stack.runtime.webhook_url in page.text  # the package keeps working after

    back = await callback_url(stack, browser, page)
    landed = await browser.get(back)
    assert "Connected as Ada Admin" in text_of(landed.text)
    assert (await stack.runtime.tokens.status()).state is ConnectionState.CONNECTED
