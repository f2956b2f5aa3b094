"""The settings page in a real browser (Debian's Chromium driven by Playwright):
sign in to the host, save the credentials, Connect in the popup, log in and
allow on the emulator's pages, come back connected, disconnect.

The connected page is saved as a screenshot under the test's tmp_path and copied
to /tmp/admin-connected.png for a human to look at.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest
from admin_support import ADMIN_TOKEN, SALESFORCE_ADMIN, Stack
from playwright.async_api import Browser, Dialog, Page, expect

from opencx_salesforce.emulator.seed import DEMO_CLIENT_ID, DEMO_CLIENT_SECRET

SCREENSHOT_COPY = Path("/tmp/admin-connected.png")

pytestmark = pytest.mark.browser
# Generous for a loaded machine; a passing run takes a fraction of it.
expect.set_options(timeout=10_000)


async def open_settings(browser: Browser, stack: Stack, *, block_popups: bool = False) -> Page:
    context = await browser.new_context(
        viewport={"width": 1100, "height": 900},
        permissions=["clipboard-read", "clipboard-write"],
    )
    context.set_default_timeout(10_000)
    if block_popups:
        # What a popup blocker does: window.open gives nothing back.
        await context.add_init_script("window.open = function () { return null; };")
    page = await context.new_page()
    await page.goto(stack.admin_url)
    # Not signed in: the host's login form, then back to the settings page.
    await page.get_by_label("Admin token").fill(ADMIN_TOKEN)
    await page.get_by_role("button", name="Sign in").click()
    await page.wait_for_url(re.compile(r"/integrations/salesforce/admin$"))
    return page


async def fill_and_save(page: Page, stack: Stack) -> None:
    await page.get_by_label("Client ID").fill(DEMO_CLIENT_ID)
    await page.get_by_label("Client Secret").fill(DEMO_CLIENT_SECRET)
    # Typing a My Domain URL selects the custom login choice (admin.js).
    await page.get_by_label("My Domain URL").fill(stack.login_url)
    await expect(page.get_by_label("My Domain (custom URL)")).to_be_checked()
    await expect(page.get_by_label("Redirect URI")).to_have_value(stack.redirect_uri)
    await page.get_by_role("button", name="Save Credentials").click()
    await expect(page.locator("#status-line")).to_have_text("Credentials saved, not connected yet")


async def log_in_and_allow(page: Page) -> None:
    """The emulator's Salesforce pages: the login form, then Allow."""
    username, password = SALESFORCE_ADMIN
    await page.locator("input[type=password]").wait_for()
    await page.locator(
        "input:not([type=hidden]):not([type=password]):not([type=submit])"
    ).first.fill(username)
    await page.locator("input[type=password]").fill(password)
    await page.locator("form [type=submit]").first.click()
    await page.get_by_role("button", name=re.compile("allow", re.I)).click()


async def test_connect_in_a_real_browser_through_the_popup(
    browser: Browser, stack: Stack, tmp_path: Path
) -> None:
    page = await open_settings(browser, stack)
    await fill_and_save(page, stack)

    async with page.expect_popup() as opened:
        await page.get_by_role("button", name="Connect to Salesforce").click()
    popup = await opened.value
    await log_in_and_allow(popup)
    # The callback page reloads this page and closes the popup.
    await popup.wait_for_event("close")
    await expect(page).to_have_url(re.compile(r"/integrations/salesforce/admin\?notice=connected$"))
    status = page.locator("#status-line")
    await expect(status).to_contain_text("Connected as Ada Admin (admin@acme.example) to org 00D")
    # The notice of the save before is gone: only "Connected" is announced.
    await expect(page.get_by_role("status")).to_have_text(re.compile("Connected"))
    await expect(page.get_by_label("Webhook URL")).to_have_value(stack.runtime.webhook_url)
    await expect(page.get_by_role("link", name="Download Salesforce package")).to_be_visible()
    # The Copy button next to the Webhook URL puts it on the clipboard.
    copy = page.locator("button[data-copy=webhook_url]")
    await copy.click()
    await expect(copy).to_have_text("Copied")
    clipboard = await page.evaluate("navigator.clipboard.readText()")
    assert clipboard == stack.runtime.webhook_url

    shot = tmp_path / "admin-connected.png"
    await page.screenshot(path=str(shot), full_page=True)
    shutil.copyfile(shot, SCREENSHOT_COPY)
    assert DEMO_CLIENT_SECRET not in await page.content()

    # Disconnect asks first: dismissed, nothing changes.
    asked: list[str] = []

    async def answer(dialog: Dialog) -> None:
        asked.append(dialog.message)
        await (dialog.accept() if len(asked) > 1 else dialog.dismiss())

    page.on("dialog", answer)
    await page.get_by_role("button", name="Disconnect").click()
    await expect(page.get_by_role("status")).to_have_text(re.compile("Connected"))
    assert asked and "revokes the plugin's token" in asked[0]
    await page.get_by_role("button", name="Disconnect").click()
    await expect(status).to_have_text("Not configured")
    await expect(page.locator("#cleanup-list")).to_contain_text("OpenCX_Integration")


async def test_a_blocked_popup_goes_to_salesforce_in_the_same_window(
    browser: Browser, stack: Stack
) -> None:
    page = await open_settings(browser, stack, block_popups=True)
    await fill_and_save(page, stack)
    await page.get_by_role("button", name="Connect to Salesforce").click()
    await log_in_and_allow(page)
    await page.wait_for_url(re.compile(r"/integrations/salesforce/admin\?"))
    await expect(page.locator("#status-line")).to_contain_text("Connected as Ada Admin")
    note = page.locator('[data-symptom="Popup blocked"]')
    await expect(note).to_contain_text("The sign-in window was blocked")


async def test_the_settings_page_loads_without_a_failed_request_or_console_error(
    browser: Browser, stack: Stack
) -> None:
    """It names its icon, which answers: without one a browser asks the host
    for /favicon.ico, a 404 in the console of every admin page."""
    page = await open_settings(browser, stack)
    failed: list[str] = []
    page.on("response", lambda r: failed.append(f"{r.status} {r.url}") if r.status >= 400 else None)
    page.on("console", lambda m: failed.append(m.text) if m.type == "error" else None)
    await page.reload()
    await expect(page.locator("#status-line")).to_be_visible()
    icon = await page.locator("link[rel=icon]").get_attribute("href")
    assert icon is not None and icon.endswith("favicon.svg")
    served = await page.request.get(icon if "://" in icon else stack.base_url + icon)
    assert served.status == 200 and served.headers["content-type"].startswith("image/svg+xml")
    assert failed == []
