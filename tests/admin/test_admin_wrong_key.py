"""Issue 16 item 6: the encryption key changed (or is wrong) since the
credentials and tokens were saved. The settings page explains it instead of a
500, Save Credentials and Connect start over, and Disconnect deletes what cannot
be read, saying that nothing could be revoked at Salesforce. Checked without
JavaScript and in Chromium (a screenshot for a human to look at)."""

from __future__ import annotations

import asyncio
import re
import shutil
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import pytest
from admin_support import (
    ADMIN_PATH,
    ADMIN_TOKEN,
    AdminBrowser,
    sign_in_on_salesforce,
    text_of,
)
from playwright.async_api import Browser, expect

from opencx_salesforce.devhost import DevHost, HostSettings
from opencx_salesforce.emulator.app import Emulator
from opencx_salesforce.emulator.seed import DEMO_CLIENT_ID, DEMO_CLIENT_SECRET, default_org
from opencx_salesforce.plugin import SalesforcePlugin
from opencx_salesforce.salesforce.secrets import NAMESPACE, generate_key
from opencx_salesforce.salesforce.tokens import CONNECTION_KEY, CREDENTIALS_KEY, ConnectionState
from opencx_salesforce.store.memory import MemoryStore

KEY_BEFORE = generate_key()
KEY_AFTER = generate_key()
SCREENSHOT_COPY = Path("/tmp/admin-wrong-key.png")
EXPLANATION = "The stored Salesforce secrets cannot be read with the configured encryption key"

StartHost = Callable[[str], Awaitable[tuple[DevHost, SalesforcePlugin, str]]]


@pytest.fixture
async def start_host(salesforce_emulator: Emulator) -> AsyncIterator[StartHost]:
    """Hosts on one store, each with the encryption key it is given."""
    store = MemoryStore()
    hosts: list[DevHost] = []

    async def start(key: str) -> tuple[DevHost, SalesforcePlugin, str]:
        plugin = SalesforcePlugin()
        host = DevHost(
            HostSettings(admin_token=ADMIN_TOKEN, store_url="memory://"),
            store=store,
            plugins={"salesforce": plugin},
            # Production mode, with the emulator as the operator's login URL.
            plugin_sections={
                "salesforce": {"encryption_key": key, "login_url": salesforce_emulator.base_url}
            },
        )
        url = await host.start(host="127.0.0.1", port=0)
        assert plugin.is_running, host.hook_errors
        hosts.append(host)
        return host, plugin, url

    yield start
    for host in reversed(hosts):
        await host.stop()


@pytest.fixture
async def rekeyed(
    start_host: StartHost, salesforce_emulator: Emulator
) -> AsyncIterator[tuple[DevHost, SalesforcePlugin, str]]:
    """Connected under one key, then the host restarted with another."""
    host, plugin, _ = await start_host(KEY_BEFORE)
    redirect_uri = plugin.runtime.redirect_uri
    salesforce_emulator.state.add_org(default_org(callback_urls=(redirect_uri,)))
    tokens = plugin.runtime.tokens
    await tokens.save_credentials(salesforce_emulator.base_url, DEMO_CLIENT_ID, DEMO_CLIENT_SECRET)
    await tokens.connect_client_credentials()
    await host.stop()
    host, plugin, url = await start_host(KEY_AFTER)
    salesforce_emulator.state.auth.set_callback_urls(DEMO_CLIENT_ID, [plugin.runtime.redirect_uri])
    yield host, plugin, url


async def test_a_changed_encryption_key_is_explained_on_the_settings_page(
    rekeyed: tuple[DevHost, SalesforcePlugin, str],
) -> None:
    _, plugin, url = rekeyed
    browser = AdminBrowser(url)
    try:
        await browser.sign_in()
        page = await browser.get(ADMIN_PATH)
    finally:
        await browser.close()
    assert page.status == 200, page.text[:500]
    text = text_of(page.text)
    assert EXPLANATION in text
    assert "save the credentials again, then reconnect" in text
    assert "cannot revoke the old token at Salesforce" in text
    assert "Disconnect" in text and "/admin/disconnect" in page.text
    assert DEMO_CLIENT_SECRET not in page.text
    status = await plugin.runtime.tokens.status()
    assert status.state is ConnectionState.NEEDS_REAUTHORIZATION


async def test_with_a_changed_key_credentials_save_and_reconnect_again(
    rekeyed: tuple[DevHost, SalesforcePlugin, str], salesforce_emulator: Emulator
) -> None:
    _, plugin, url = rekeyed
    browser = AdminBrowser(url)
    try:
        await browser.sign_in()
        page = await browser.get(ADMIN_PATH)
        page = await browser.submit(
            page,
            "/admin/credentials",
            {
                "client_id": DEMO_CLIENT_ID,
                "client_secret": DEMO_CLIENT_SECRET,
                "login_choice": "custom",
                "custom_login_url": salesforce_emulator.base_url,
            },
        )
        assert page.status == 200 and page.url.endswith("notice=saved"), text_of(page.text)
        answer = await browser.submit(page, "/admin/connect", follow=False)
        back = await sign_in_on_salesforce(browser.session, answer.headers["Location"])
        page = await browser.get(back)
    finally:
        await browser.close()
    text = text_of(page.text)
    assert "Connected as" in text, text
    assert EXPLANATION not in text
    assert await plugin.runtime.tokens.unreadable_records() == []


async def test_with_a_changed_key_disconnect_deletes_what_it_cannot_read(
    rekeyed: tuple[DevHost, SalesforcePlugin, str],
) -> None:
    host, plugin, url = rekeyed
    browser = AdminBrowser(url)
    try:
        await browser.sign_in()
        page = await browser.get(ADMIN_PATH)
        page = await browser.submit(page, "/admin/disconnect")
    finally:
        await browser.close()
    assert page.status == 200, page.text[:500]
    assert page.url.endswith("notice=disconnected_unreadable")
    text = text_of(page.text)
    assert "Disconnected, but not revoked at Salesforce" in text
    assert "could not be read with the configured encryption key" in text
    assert EXPLANATION not in text  # nothing unreadable is left
    assert await host.store.get(NAMESPACE, CONNECTION_KEY) is None
    assert await host.store.get(NAMESPACE, CREDENTIALS_KEY) is None
    status = await plugin.runtime.tokens.status()
    assert status.state is ConnectionState.NOT_CONFIGURED


@pytest.mark.browser
async def test_a_changed_encryption_key_in_chromium(
    rekeyed: tuple[DevHost, SalesforcePlugin, str], browser: Browser, tmp_path: Path
) -> None:
    _, _, url = rekeyed
    context = await browser.new_context(viewport={"width": 1100, "height": 1000})
    page = await context.new_page()
    await page.goto(url + ADMIN_PATH)
    await page.get_by_label("Admin token").fill(ADMIN_TOKEN)
    await page.get_by_role("button", name="Sign in").click()
    await page.wait_for_url(re.compile(r"/integrations/salesforce/admin$"))
    alert = page.locator('[data-symptom="Encryption key changed"]')
    await expect(alert).to_contain_text(EXPLANATION)
    await expect(page.get_by_role("button", name="Save Credentials")).to_be_visible()
    await expect(page.get_by_role("button", name="Disconnect")).to_be_visible()
    shot = tmp_path / "admin-wrong-key.png"
    await page.screenshot(path=str(shot), full_page=True)
    shutil.copyfile(shot, SCREENSHOT_COPY)
    page.once("dialog", lambda dialog: asyncio.ensure_future(dialog.accept()))  # "Disconnect?"
    await page.get_by_role("button", name="Disconnect").click()
    await expect(page.get_by_text("Disconnected, but not revoked at Salesforce")).to_be_visible()
    await context.close()
