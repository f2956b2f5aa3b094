"""The client secret, the access token and the refresh token never appear in a
page, a JSON answer, an error or a log line, whatever the admin does."""

from __future__ import annotations

import logging

import aiohttp
import pytest
from admin_support import (
    ADMIN_PATH,
    ADMIN_TOKEN,
    PREFIX,
    Stack,
    connect_through_page,
    sign_in_on_salesforce,
)

from opencx_salesforce.emulator.seed import DEMO_CLIENT_SECRET


async def test_no_secret_or_token_in_any_page_or_log(
    stack: Stack, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    browser, page = await connect_through_page(stack)
    grant = await stack.runtime.tokens.access_token()
    assert grant.access_token and grant.refresh_token
    secrets = {
        "client secret": DEMO_CLIENT_SECRET,
        "access token": grant.access_token,
        "refresh token": grant.refresh_token,
    }

    # Everything else the admin can do, including each kind of failure.
    await browser.get(ADMIN_PATH)
    await browser.submit(page, "/admin/credentials", stack.credentials_form())  # re-save
    page = await browser.get(ADMIN_PATH)
    await browser.submit(page, "/admin/credentials", client_secret="wrong-secret-0000000")
    await browser.submit(page, "/admin/credentials", client_id="wrong-client-id")
    answer = await browser.submit(page, "/admin/connect", follow=False)
    back = await sign_in_on_salesforce(browser.session, answer.headers["Location"])
    await browser.get(back)
    second = await stack.runtime.tokens.access_token()  # a new grant: scan it too
    assert second.refresh_token and second.access_token != grant.access_token
    secrets["second access token"] = second.access_token
    secrets["second refresh token"] = second.refresh_token
    await browser.get(back)  # replayed
    await browser.get(f"{PREFIX}/oauth/callback?error=invalid_grant&error_description=x")
    await browser.post(PREFIX + "/admin/credentials", {"client_id": "no-csrf"})
    answers = [page.text for page in browser.pages]
    async with aiohttp.ClientSession() as http:
        for path in ("/admin/status.json", "/admin"):
            async with http.get(
                stack.base_url + PREFIX + path,
                headers={"Authorization": f"Bearer {ADMIN_TOKEN}"},
            ) as response:
                answers.append(await response.text())
    page = await browser.get(ADMIN_PATH)
    await browser.submit(page, "/admin/disconnect")
    answers.extend(p.text for p in browser.pages[-2:])

    logged = caplog.text + "\n".join(str(r.args) for r in caplog.records)
    assert len(answers) > 10
    for what, value in secrets.items():
        for number, text in enumerate(answers):
            assert value not in text, f"the {what} is in answer #{number}"
        assert value not in logged, f"the {what} is in the log"
