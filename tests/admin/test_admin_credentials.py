"""Save Credentials: checked with Salesforce (the emulator) before anything is
saved, and every refusal says what to fix."""

from __future__ import annotations

import socket
from dataclasses import replace

from admin_support import (
    ADMIN_PATH,
    Page,
    Stack,
    StartStack,
    csrf_token_in,
    form_with_action,
    text_of,
)

from opencx_salesforce.emulator.seed import DEMO_CLIENT_ID, DEMO_CLIENT_SECRET, OrgSeed, default_org
from opencx_salesforce.salesforce.oauth import CredentialCheck, CredentialCheckOutcome
from opencx_salesforce.web.admin.messages import (
    PRODUCTION_LOGIN,
    SANDBOX_LOGIN,
    credential_check_message,
)


async def save(stack: Stack, **fields: str) -> Page:
    browser = stack.browsers[0] if stack.browsers else await stack.signed_in()
    page = await browser.get(ADMIN_PATH)
    return await browser.submit(page, "/admin/credentials", {**stack.credentials_form(), **fields})


async def test_right_credentials_are_saved_and_the_secret_is_never_shown(stack: Stack) -> None:
    page = await save(stack)
    assert page.status == 200 and page.url.endswith(f"{ADMIN_PATH}?notice=saved")
    text = text_of(page.text)
    assert "Credentials saved" in text
    assert "Credentials saved, not connected yet" in text
    assert DEMO_CLIENT_SECRET not in page.text
    # Issue 16 item 11: the hint shows none of the secret's characters.
    assert "A Client Secret is saved (not shown)" in text
    assert f"{DEMO_CLIENT_SECRET[:4]}…" not in text and "chars)" not in text
    form = form_with_action(page.text, "/admin/credentials")
    assert form.fields["client_secret"] == ""
    assert form.fields["client_id"] == DEMO_CLIENT_ID
    assert form.values()["login_choice"] == "custom"
    assert form.fields["custom_login_url"] == stack.login_url
    saved = await stack.runtime.tokens.credentials()
    assert saved is not None
    assert (saved.login_url, saved.client_id, saved.client_secret) == (
        stack.login_url,
        DEMO_CLIENT_ID,
        DEMO_CLIENT_SECRET,
    )


async def test_pasted_whitespace_is_stripped(stack: Stack) -> None:
    page = await save(
        stack,
        client_id=f"  {DEMO_CLIENT_ID}\n",
        client_secret=f"\t{DEMO_CLIENT_SECRET} ",
        custom_login_url=f" {stack.login_url}/ ",
    )
    assert "Credentials saved" in text_of(page.text)
    saved = await stack.runtime.tokens.credentials()
    assert saved is not None
    assert saved.client_id == DEMO_CLIENT_ID and saved.client_secret == DEMO_CLIENT_SECRET
    assert saved.login_url == stack.login_url


async def test_a_wrong_client_id_is_not_saved_and_the_message_names_all_three_causes(
    stack: Stack,
) -> None:
    page = await save(stack, client_id="3MVG9-a-client-id-nobody-made")
    assert page.status == 400
    text = text_of(page.text)
    assert "Credentials won't save" in text
    assert "does not recognise this Client ID" in text
    assert "copied incompletely" in text
    assert "2 to 10 minutes" in text
    # A custom login URL: both well-known ones are suggested.
    assert PRODUCTION_LOGIN in text and SANDBOX_LOGIN in text
    # What the admin typed comes back, except the secret.
    form = form_with_action(page.text, "/admin/credentials")
    assert form.fields["client_id"] == "3MVG9-a-client-id-nobody-made"
    assert form.fields["client_secret"] == ""
    assert DEMO_CLIENT_SECRET not in page.text
    assert await stack.runtime.tokens.credentials() is None


async def test_a_connected_app_still_activating_gets_the_same_honest_message(
    start_stack: StartStack,
) -> None:
    def activating(redirect_uri: str) -> OrgSeed:
        seed = default_org(callback_urls=(redirect_uri,))
        return replace(seed, apps=(replace(seed.apps[0], activation_delay=600.0),))

    stack = await start_stack(seed=activating)
    page = await save(stack)
    assert page.status == 400
    text = text_of(page.text)
    assert "Credentials won't save" in text
    assert "2 to 10 minutes" in text
    assert await stack.runtime.tokens.credentials() is None


def test_a_wrong_client_id_at_production_suggests_the_sandbox_login_and_back() -> None:
    check = CredentialCheck(CredentialCheckOutcome.WRONG_CLIENT_ID, "", "invalid_client_id")
    production = credential_check_message(check, PRODUCTION_LOGIN, "https://x/cb").text
    sandbox = credential_check_message(check, SANDBOX_LOGIN, "https://x/cb").text
    assert f"try the login URL {SANDBOX_LOGIN}." in production
    assert f"try the login URL {PRODUCTION_LOGIN}." in sandbox


async def test_a_wrong_secret_is_not_saved(stack: Stack) -> None:
    page = await save(stack, client_secret="not-the-secret-of-this-app")
    assert page.status == 400
    text = text_of(page.text)
    assert "Credentials won't save" in text
    assert "The Client Secret is wrong" in text
    assert "not-the-secret-of-this-app" not in page.text
    assert await stack.runtime.tokens.credentials() is None


async def test_an_unregistered_redirect_uri_is_named_with_the_uri_to_register(
    start_stack: StartStack,
) -> None:
    stack = await start_stack(
        seed=lambda _: default_org(callback_urls=("https://elsewhere.example/callback",))
    )
    page = await save(stack)
    assert page.status == 400
    text = text_of(page.text)
    assert "Callback mismatch" in text
    assert f"set Callback URL to exactly {stack.redirect_uri}" in text
    assert await stack.runtime.tokens.credentials() is None


async def test_an_unreachable_login_url_says_so(stack: Stack) -> None:
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        closed = f"http://127.0.0.1:{probe.getsockname()[1]}"
    page = await save(stack, custom_login_url=closed)
    assert page.status == 502
    text = text_of(page.text)
    assert "Salesforce could not be reached" in text
    assert closed in text
    assert await stack.runtime.tokens.credentials() is None


async def test_a_login_url_that_is_not_https_is_refused_before_any_call(stack: Stack) -> None:
    page = await save(stack, custom_login_url="http://acme.my.salesforce.com")
    assert page.status == 400
    text = text_of(page.text)
    assert "The Login URL is not valid" in text
    assert "https" in text


async def test_empty_fields_are_named(stack: Stack) -> None:
    page = await save(stack, client_id="", client_secret="")
    assert page.status == 400
    assert "Fill in the Client ID and the Client Secret" in text_of(page.text)


async def test_an_empty_secret_keeps_the_saved_one(stack: Stack) -> None:
    await save(stack)
    page = await save(stack, client_secret="")
    assert "Credentials saved" in text_of(page.text)
    saved = await stack.runtime.tokens.credentials()
    assert saved is not None and saved.client_secret == DEMO_CLIENT_SECRET


async def test_the_page_keeps_its_csrf_token_across_a_refused_save(stack: Stack) -> None:
    browser = await stack.signed_in()
    first = await browser.get(ADMIN_PATH)
    refused = await browser.submit(first, "/admin/credentials", client_id="", client_secret="")
    assert csrf_token_in(refused.text) == csrf_token_in(first.text)
    saved = await browser.submit(refused, "/admin/credentials", stack.credentials_form())
    assert "Credentials saved" in text_of(saved.text)
