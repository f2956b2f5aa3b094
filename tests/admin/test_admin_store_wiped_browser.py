"""The settings page in Chromium after the store was wiped under the running
host: the wipe is said at the top, before anything else. A screenshot is copied
to /tmp/admin-store-wiped.png for a human to look at."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from admin_support import Stack
from playwright.async_api import Browser, expect
from test_admin_browser import open_settings

from opencx_salesforce.store.epoch import EPOCH_KEY, EPOCH_NS

SCREENSHOT_COPY = Path("/tmp/admin-store-wiped.png")

pytestmark = pytest.mark.browser


async def test_the_settings_page_says_the_store_was_wiped(
    browser: Browser, stack: Stack, tmp_path: Path
) -> None:
    # What a Redis restart without persistence does: the marker is gone.
    store = stack.host.store
    assert await store.delete(EPOCH_NS, EPOCH_KEY)
    watch = stack.runtime.store_watch
    assert watch is not None
    assert await watch.check() is not None  # the instance's periodic look

    page = await open_settings(browser, stack)
    box = page.get_by_text("The store was wiped")
    await expect(box).to_be_visible()
    await expect(page.get_by_text("lost all its data")).to_be_visible()
    shot = tmp_path / "admin-store-wiped.png"
    await page.screenshot(path=str(shot), full_page=True)
    shutil.copy(shot, SCREENSHOT_COPY)
