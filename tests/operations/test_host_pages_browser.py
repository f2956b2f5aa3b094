"""The reference host's own pages, in Chromium: the root leads to the sign-in,
the sign-in to the admin landing page, which links to the inbox and to the
Salesforce plugin's settings page. Screenshots go to /tmp for a person to look at."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from playwright.async_api import Browser, expect

from opencx_salesforce.devhost import DevHost, HostSettings
from opencx_salesforce.plugin import SalesforcePlugin
from opencx_salesforce.store.memory import MemoryStore

ADMIN = "pages-admin-token-0123456789abcdef"
SHOTS = Path("/tmp")


@pytest.fixture
async def host_url() -> AsyncIterator[str]:
    host = DevHost(
        HostSettings(admin_token=ADMIN, store_url="memory://"),
        store=MemoryStore(),
        plugins={"salesforce": SalesforcePlugin()},
        plugin_sections={"salesforce": {"dev_mode": True}},
    )
    url = await host.start(host="127.0.0.1", port=0)
    try:
        yield url
    finally:
        await host.stop()


@pytest.mark.browser
async def test_root_sign_in_and_landing_page_lead_to_the_inbox_and_the_settings_page(
    browser: Browser, host_url: str
) -> None:
    page = await browser.new_page(viewport={"width": 1000, "height": 700})
    page.set_default_timeout(10_000)

    await page.goto(host_url + "/")
    await expect(page.get_by_role("heading", name="Administrator sign-in")).to_be_visible()
    await page.screenshot(path=str(SHOTS / "host-login.png"), full_page=True)

    await page.get_by_label("Admin token").fill("not the token")
    await page.get_by_role("button", name="Sign in").click()
    await expect(page.get_by_role("alert")).to_have_text("Wrong token.")
    await page.screenshot(path=str(SHOTS / "host-login-wrong.png"), full_page=True)

    await page.get_by_label("Admin token").fill(ADMIN)
    await page.get_by_role("button", name="Sign in").click()
    await expect(page.get_by_role("heading", name="Signed in")).to_be_visible()
    await page.screenshot(path=str(SHOTS / "host-landing.png"), full_page=True)

    await page.get_by_role("link", name="Open the inbox").click()
    await expect(page.get_by_role("heading", name="Inbox")).to_be_visible()
    await page.go_back()
    await page.get_by_role("link", name="Salesforce settings").click()
    await expect(page.get_by_role("heading", name="Salesforce", exact=True)).to_be_visible()
    assert page.url == f"{host_url}/integrations/salesforce/admin"
