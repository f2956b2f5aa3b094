"""Every form POST from a browser carries the page's CSRF token; a script with
the admin bearer token and no cookies does not need one."""

from __future__ import annotations

import aiohttp
import pytest
from admin_support import ADMIN_PATH, ADMIN_TOKEN, PREFIX, Stack, csrf_token_in, text_of

FORMS = ["/admin/credentials", "/admin/connect", "/admin/disconnect", "/admin/dead-letters/retry"]


@pytest.mark.parametrize("path", FORMS)
async def test_a_signed_in_browser_post_without_the_token_is_refused(
    stack: Stack, path: str
) -> None:
    browser = await stack.signed_in()
    refused = await browser.post(PREFIX + path, stack.credentials_form())
    assert refused.status == 403
    assert "The form expired" in text_of(refused.text)
    assert await stack.runtime.tokens.credentials() is None


async def test_a_wrong_token_is_refused(stack: Stack) -> None:
    browser = await stack.signed_in()
    page = await browser.get(ADMIN_PATH)
    token = csrf_token_in(page.text)
    forged = ("0" if token[0] != "0" else "1") + token[1:]
    refused = await browser.post(
        PREFIX + "/admin/credentials", {**stack.credentials_form(), "csrf_token": forged}
    )
    assert refused.status == 403
    assert await stack.runtime.tokens.credentials() is None


async def test_a_token_from_another_browser_does_not_fit_this_one(stack: Stack) -> None:
    # An attacker who is an admin elsewhere (or who read a token off a screenshot)
    # still cannot forge this browser's form: the token is bound to its cookie.
    attacker = await stack.signed_in()
    victim = await stack.signed_in()
    stolen = csrf_token_in((await attacker.get(ADMIN_PATH)).text)
    await victim.get(ADMIN_PATH)  # the victim has a CSRF cookie of its own
    refused = await victim.post(
        PREFIX + "/admin/credentials", {**stack.credentials_form(), "csrf_token": stolen}
    )
    assert refused.status == 403


async def test_the_pages_own_token_is_accepted(stack: Stack) -> None:
    browser = await stack.signed_in()
    page = await browser.get(ADMIN_PATH)
    saved = await browser.submit(page, "/admin/credentials", stack.credentials_form())
    assert saved.status == 200 and "Credentials saved" in text_of(saved.text)
    assert (await stack.runtime.tokens.credentials()) is not None


async def test_a_script_with_the_bearer_token_and_no_cookies_needs_no_csrf_token(
    stack: Stack,
) -> None:
    async with (
        aiohttp.ClientSession() as http,
        http.post(
            stack.base_url + PREFIX + "/admin/credentials",
            json={
                "client_id": " " + stack.credentials_form()["client_id"] + "\n",
                "client_secret": stack.credentials_form()["client_secret"],
                "login_url": stack.login_url,
            },
            headers={"Authorization": f"Bearer {ADMIN_TOKEN}", "Accept": "application/json"},
        ) as response,
    ):
        body = await response.json()
        assert response.status == 200, body
    assert body["ok"] is True
    assert body["status"]["state"] == "credentials_saved"


async def test_a_bearer_request_that_also_carries_cookies_must_show_the_token(
    stack: Stack,
) -> None:
    # Cookies mean a browser may be involved, and a browser's cookies are ambient.
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
        http.cookie_jar.update_cookies({"opencx_sf_csrf": "planted"})
        async with http.post(
            stack.base_url + PREFIX + "/admin/credentials",
            json={**stack.credentials_form(), "login_url": stack.login_url},
            headers={"Authorization": f"Bearer {ADMIN_TOKEN}", "Accept": "application/json"},
        ) as response:
            assert response.status == 403
    assert await stack.runtime.tokens.credentials() is None


async def test_the_csrf_cookie_is_http_only_and_strict(stack: Stack) -> None:
    async with (
        aiohttp.ClientSession() as http,
        http.get(stack.admin_url, headers={"Authorization": f"Bearer {ADMIN_TOKEN}"}) as response,
    ):
        assert response.status == 200
        cookies = [c for c in response.headers.getall("Set-Cookie") if "opencx_sf_csrf=" in c]
    assert len(cookies) == 1
    attributes = {part.strip().split("=")[0].lower() for part in cookies[0].split(";")}
    assert {"httponly", "samesite", "path"} <= attributes
    assert "SameSite=Strict" in cookies[0]
    assert f"Path={ADMIN_PATH}" in cookies[0]
