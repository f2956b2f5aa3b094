"""Only the host's administrators reach the settings routes; browsers that are
not signed in are sent to the host's sign-in page and come back afterwards."""

from __future__ import annotations

import aiohttp
import pytest
from admin_support import ADMIN_PATH, ADMIN_TOKEN, PREFIX, Stack, forms_in

ADMIN_ROUTES = [
    ("GET", "/admin"),
    ("GET", "/admin/status.json"),
    ("GET", "/admin/package.zip"),
    ("POST", "/admin/credentials"),
    ("POST", "/admin/connect"),
    ("POST", "/admin/disconnect"),
    ("POST", "/admin/dead-letters/retry"),
]


@pytest.mark.parametrize(("method", "path"), ADMIN_ROUTES)
async def test_a_wrong_bearer_token_is_refused_on_every_admin_route(
    stack: Stack, method: str, path: str
) -> None:
    async with (
        aiohttp.ClientSession() as http,
        http.request(
            method,
            stack.base_url + PREFIX + path,
            headers={"Authorization": "Bearer not-the-admin-token-at-all"},
            allow_redirects=False,
        ) as response,
    ):
        assert response.status == 403


@pytest.mark.parametrize(("method", "path"), [r for r in ADMIN_ROUTES if r[0] == "POST"])
async def test_an_anonymous_post_is_refused_and_changes_nothing(
    stack: Stack, method: str, path: str
) -> None:
    async with (
        aiohttp.ClientSession() as http,
        http.post(
            stack.base_url + PREFIX + path,
            data=stack.credentials_form(),
            allow_redirects=False,
        ) as response,
    ):
        assert response.status == 403
    assert await stack.runtime.tokens.credentials() is None


async def test_a_browser_is_sent_to_the_hosts_login_and_back(stack: Stack) -> None:
    browser = stack.browser()
    first = await browser.get(ADMIN_PATH, follow=False)
    assert first.status == 303
    assert first.headers["Location"] == f"/admin/login?next={ADMIN_PATH}"

    page = await browser.sign_in()  # follows the login form back to the page
    assert "Save Credentials" in page.text
    assert "Not configured" in page.text


async def test_host_admin_login_url_is_where_a_signed_out_browser_is_sent(stack: Stack) -> None:
    asked: list[str] = []

    def admin_login_url(next_path: str) -> str:
        asked.append(next_path)
        return f"https://sso.example.test/login?back={next_path}"

    # What a host with its own sign-in offers (the optional Host member).
    setattr(stack.host, "admin_login_url", admin_login_url)  # noqa: B010
    first = await stack.browser().get(ADMIN_PATH, follow=False)
    assert first.status == 303
    assert first.headers["Location"] == f"https://sso.example.test/login?back={ADMIN_PATH}"
    assert asked == [ADMIN_PATH]


async def test_signing_in_with_a_wrong_token_does_not_open_the_page(stack: Stack) -> None:
    browser = stack.browser()
    login = await browser.get(ADMIN_PATH)
    form = forms_in(login.text)[0]
    refused = await browser.post("/admin/login", form.values(token="wrong-token-wrong-token"))
    assert refused.status == 401
    again = await browser.get(ADMIN_PATH, follow=False)
    assert again.status == 303


async def test_status_json_answers_a_script_with_the_admin_token(stack: Stack) -> None:
    async with aiohttp.ClientSession() as http:
        async with http.get(stack.base_url + PREFIX + "/admin/status.json") as anonymous:
            assert anonymous.status == 403
            assert await anonymous.json() == {"error": "administrators only"}
        async with http.get(
            stack.base_url + PREFIX + "/admin/status.json",
            headers={"Authorization": f"Bearer {ADMIN_TOKEN}"},
        ) as response:
            assert response.status == 200
            body = await response.json()
    assert body["state"] == "not_configured"
    assert body["redirect_uri"] == stack.redirect_uri
    assert body["webhook_url"] is None  # shown once connected
    assert body["outbox"] == {
        "pending": 0,
        "dead": 0,
        "dead_letters": [],
        "pending_jobs": [],
        "outage": None,
    }


async def test_the_oauth_callback_is_not_behind_the_admin_check(stack: Stack) -> None:
    # Salesforce's redirect lands there in whatever state the browser is; the
    # state parameter, not the admin cookie, is what protects it.
    async with (
        aiohttp.ClientSession() as http,
        http.get(
            stack.base_url + PREFIX + "/oauth/callback?code=abc&state=never-issued",
            allow_redirects=False,
        ) as response,
    ):
        assert response.status == 400
        assert "expired or was already used" in await response.text()


async def test_pages_forbid_framing_inline_scripts_and_caching(stack: Stack) -> None:
    browser = await stack.signed_in()
    page = await browser.get(ADMIN_PATH)
    policy = page.headers["Content-Security-Policy"]
    assert "frame-ancestors 'none'" in policy
    assert "script-src 'self'" in policy and "unsafe-inline" not in policy
    assert page.headers["Cache-Control"] == "no-store"
    assert page.headers["Referrer-Policy"] == "no-referrer"
    assert "<script>" not in page.text  # only external, same-origin scripts
