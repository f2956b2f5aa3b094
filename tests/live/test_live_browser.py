"""A live chat in real browsers (Debian's Chromium): the rep works it in the
emulator's agent console, the contact's side shows in the host's inbox, and both
directions arrive. The admin's settings page shows the Live Messaging card meanwhile.
Screenshots go to /tmp/live-console.png, /tmp/live-inbox.png and
/tmp/live-settings.png (the card alone: /tmp/live-settings-card.png) for a human
to look at."""

from __future__ import annotations

import shutil
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from live_stack import live_host, new_emulator
from playwright.async_api import Browser, expect
from test_live_handoff import chat_session, live_chat

from opencx_salesforce.devhost.stack import Stack
from opencx_salesforce.devhost.waiting import wait_for
from opencx_salesforce.emulator.messaging.routes import messaging_of
from opencx_salesforce.models import Role

pytestmark = pytest.mark.browser


@pytest.fixture
async def stack() -> AsyncIterator[Stack]:
    emulator, org = await new_emulator()
    stack = await live_host(emulator, org)
    try:
        yield stack
    finally:
        await stack.close()


async def test_a_live_chat_in_the_agent_console_and_the_host_inbox(
    stack: Stack, browser: Browser, tmp_path: Path
) -> None:
    session = await chat_session(stack)
    await stack.host.handoff(session.id)
    chat = await live_chat(stack, session.id)
    assert chat.case_id is not None
    await messaging_of(stack.emulator.app).settle()  # routed to the queue

    context = await browser.new_context(viewport={"width": 1360, "height": 900})
    context.set_default_timeout(10_000)
    console = await context.new_page()
    url = f"{stack.emulator.base_url}/_emulator/orgs/{stack.org.id}/messaging/"
    await console.goto(f"{url}?c={chat.conversation_id}")
    who = console.locator("#who")
    await expect(who).to_contain_text("Refund for order 4417")
    await expect(who.get_by_role("link", name=chat.case_id)).to_be_visible()
    await console.get_by_role("button", name="Accept").click()
    await console.locator("#message-text").fill("Hi Ada, Riley here. Refund on its way.")
    await console.get_by_role("button", name="Send").click()
    await expect(console.locator(".flash.notice")).to_have_text("Message sent.")

    inbox = await context.new_page()
    await inbox.goto(f"{stack.host_url}/inbox/{session.id}")
    await inbox.get_by_label("Admin token").fill(stack.host.settings.admin_token.get_secret_value())
    await inbox.get_by_role("button", name="Sign in").click()
    await expect(inbox.get_by_text("Refund on its way.")).to_be_visible()
    await expect(inbox.get_by_text("Riley Rep")).to_be_visible()

    await stack.host.post_message(session.id, Role.CONTACT, "Thank you so much!")

    async def in_console() -> bool:
        await console.reload()
        return await console.locator("#transcript").get_by_text("Thank you so much!").count() > 0

    await wait_for(in_console, what="the contact's message in the console", every=0.3)
    await console.screenshot(path=tmp_path / "console.png", full_page=True)

    # The admin's settings page, during the chat: the Live Messaging card.
    settings = await context.new_page()
    await settings.goto(f"{stack.host_url}/integrations/salesforce/admin")
    card = settings.locator("#live-card")
    await expect(card.get_by_role("heading", name="Live Messaging")).to_be_visible()
    await expect(card).to_contain_text(stack.emulator.base_url)  # the SCRT URL
    await expect(card).to_contain_text("OpenCX_Live_Chat")
    await expect(settings.locator("#live-proof")).to_contain_text("ok, guest token")
    await expect(settings.locator("#live-open")).to_contain_text(
        "1 (0 starting, 0 waiting for a rep, 1 with"
    )
    await expect(settings.locator("#live-open")).to_contain_text("1 stream read by this instance")
    await card.screenshot(path=tmp_path / "settings-live.png")
    await settings.screenshot(path=tmp_path / "settings.png", full_page=True)
    await console.get_by_role("button", name="End session").click()
    await inbox.reload()
    await expect(inbox.locator("h2 .badge")).to_have_text("resolved")
    await inbox.screenshot(path=tmp_path / "inbox.png", full_page=True)
    await context.close()
    shutil.copy(tmp_path / "console.png", "/tmp/live-console.png")
    shutil.copy(tmp_path / "inbox.png", "/tmp/live-inbox.png")
    shutil.copy(tmp_path / "settings-live.png", "/tmp/live-settings-card.png")
    shutil.copy(tmp_path / "settings.png", "/tmp/live-settings.png")
