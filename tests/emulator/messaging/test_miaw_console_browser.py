"""The agent console in a real browser (Debian's Chromium driven by Playwright): a
rep sees who and why, accepts the work, writes, ends the session. The screenshot is
copied to /tmp/emulator-agent-console.png for a human to look at."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from miaw_support import ATTRIBUTES, EndUser, read_events
from playwright.async_api import Browser, expect

from opencx_salesforce.emulator.messaging.side import MessagingSide

pytestmark = pytest.mark.browser


async def test_work_a_chat_in_the_agent_console(
    end_user: EndUser, side: MessagingSide, browser: Browser, tmp_path: Path
) -> None:
    # The history lives on a Case the Case path made; the conversation names it.
    case_id = end_user.org.create(
        "Case", {"Subject": "Refund for order 4417", "Description": "Transcript ..."}
    )
    other = EndUser(end_user.http, end_user.base_url, end_user.org)
    await other.guest()
    await other.create({"_firstName": "Bo", "_subject": "Cannot log in"})
    await end_user.guest()
    await end_user.create({**ATTRIBUTES, "OpencxCaseId": case_id})
    await side.settle()
    await end_user.send("Hello? Is a person there?")
    stream = await end_user.open_stream(str(side.events.last_id))  # from here on

    context = await browser.new_context(viewport={"width": 1360, "height": 900})
    context.set_default_timeout(5000)
    page = await context.new_page()
    console = f"{end_user.base_url}/_emulator/orgs/{end_user.org.id}/messaging/"
    await page.goto(f"{console}?c={end_user.conversation_id}")
    who = page.locator("#who")
    await expect(who).to_contain_text("Refund for order 4417")
    await expect(who).to_contain_text("ada@example.com")
    await expect(who.get_by_role("link", name=case_id)).to_be_visible()
    await expect(page.locator("#work li.entry")).to_have_count(2)

    await page.get_by_role("button", name="Accept").click()
    await expect(page.locator(".flash.notice")).to_have_text("Accepted by Riley Rep.")
    await page.locator("#message-text").fill("Hi Ada, I'm Riley. I can see your order.")
    await page.get_by_role("button", name="Send").click()
    await expect(page.locator(".flash.notice")).to_have_text("Message sent.")
    messages = page.locator("#transcript li.message")
    await expect(messages).to_have_count(2)
    await expect(messages.last).to_contain_text("Hi Ada, I'm Riley.")

    events = await read_events(stream, 3)
    assert [e.event for e in events] == [
        "CONVERSATION_PARTICIPANT_CHANGED",
        "CONVERSATION_SESSION_STATUS_CHANGED",
        "CONVERSATION_MESSAGE",
    ]
    assert events[2].payload["abstractMessage"]["staticContent"]["text"].startswith("Hi Ada")
    await page.screenshot(path=tmp_path / "console.png", full_page=True)

    await page.get_by_role("button", name="End session").click()
    await expect(page.locator(".flash.notice")).to_have_text("Session ended.")
    ended = await read_events(stream, 2)
    assert ended[1].payload["sessionStatus"] == "Ended"
    stream.release()
    await context.close()
    shutil.copy(tmp_path / "console.png", "/tmp/emulator-agent-console.png")
