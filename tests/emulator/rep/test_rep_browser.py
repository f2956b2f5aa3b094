"""The pages in a real browser (Debian's Chromium driven by Playwright): work a Case
as a rep through the forms. Screenshots of both pages are copied to
/tmp/emulator-index.png and /tmp/emulator-case.png for a human to look at."""

from __future__ import annotations

import shutil
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from emulator_support import RestCaller
from playwright.async_api import Browser, expect
from rep_support import act, opencx_case

from opencx_salesforce.emulator.package import apex_runtime, deploy_package

pytestmark = pytest.mark.browser


async def a_worked_case(rest: RestCaller, webhook_url: str) -> str:
    """A Case as the plugin leaves it after a handoff, with some history."""
    deploy_package(rest.org, webhook_url, "whsec_emulator_screenshot_0123")
    case_id = await opencx_case(
        rest,
        Subject="Order #4417 arrived damaged",
        Description="Summary from the assistant: the customer's espresso machine arrived "
        "with a cracked water tank. They want a replacement, not a refund.",
        Priority="High",
        OpenCX_Language__c="en",
    )
    transcript = [
        "[Customer 09:12] Hi, my espresso machine arrived with a cracked tank.",
        "[Assistant 09:12] Sorry to hear that! Could you share your order number?",
        "[Customer 09:13] #4417. I'd like a replacement please.",
    ]
    for line in transcript:
        reply = await rest.post(
            "sobjects/CaseComment", {"ParentId": case_id, "CommentBody": line, "IsPublished": False}
        )
        assert reply.status == 201
    await act(rest, case_id, "note", text="Checked the warehouse: replacement units in stock.")
    await act(rest, case_id, "reply", text="Hi Casey, a replacement ships today.")
    await act(rest, case_id, "email", text="Tracking number: 1Z999AA10123456784.")
    await opencx_case(
        rest, Subject="Cannot log in", Case_From__c=None, OpenCX_Session_Id__c=None, Origin="Phone"
    )
    return case_id


async def test_work_a_case_in_the_browser(
    rest: RestCaller,
    browser: Browser,
    tmp_path: Path,
    aiohttp_server: Callable[..., Awaitable[Any]],
) -> None:
    async def hook(request: web.Request) -> web.Response:
        return web.json_response({}, status=202)

    receiver = web.Application()
    receiver.router.add_post("/hook", hook)
    server = await aiohttp_server(receiver)
    case_id = await a_worked_case(rest, str(server.make_url("/hook")))

    context = await browser.new_context(viewport={"width": 1280, "height": 900})
    context.set_default_timeout(5000)
    page = await context.new_page()
    await page.goto(f"{rest.base_url}/_emulator/")
    await expect(page.get_by_role("link", name="Order #4417 arrived damaged")).to_be_visible()
    await expect(page.get_by_text("Package deployed")).to_be_visible()
    await page.screenshot(path=tmp_path / "index.png", full_page=True)

    await page.get_by_role("link", name="Order #4417 arrived damaged").click()
    await page.wait_for_url(f"**/cases/{case_id}")
    comments = page.locator("#comments li.entry")
    await expect(comments).to_have_count(5)
    await expect(comments.nth(3).locator(".badge")).to_have_text("Internal")
    await expect(comments.nth(4).locator(".badge")).to_have_text("Public")

    await page.locator("#reply-text").fill("Your replacement is on its way.")
    await page.get_by_role("button", name="Post reply").click()
    await expect(page.locator(".flash.notice")).to_have_text("Reply saved.")
    await expect(comments).to_have_count(6)
    await expect(comments.last).to_contain_text("Your replacement is on its way.")
    await expect(comments.last.locator(".badge")).to_have_text("Public")
    # The webhook goes out after the save, from a background job: reload to see it.
    await apex_runtime(rest.org).drain()
    await page.reload()
    await expect(page.locator("#webhooks tbody tr").first).to_contain_text("case_comment.created")

    await page.get_by_role("button", name="Close Case").click()
    await expect(page.locator(".flash.notice")).to_have_text("Case closed.")
    await expect(page.get_by_role("button", name="Reopen Case")).to_be_visible()
    assert rest.org.records["Case"][case_id]["IsClosed"] is True
    await page.screenshot(path=tmp_path / "case.png", full_page=True)
    await context.close()

    shutil.copy(tmp_path / "index.png", "/tmp/emulator-index.png")
    shutil.copy(tmp_path / "case.png", "/tmp/emulator-case.png")
