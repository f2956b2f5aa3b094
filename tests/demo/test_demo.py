"""The demo, as a newcomer runs it, and what its pages show afterwards."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from playwright.async_api import Browser, expect

from opencx_salesforce.demo.live_scenario import LiveDemo
from opencx_salesforce.demo.scenario import Demo
from opencx_salesforce.demo.timeline import Timeline

STEPS = [
    "Start the local Salesforce and the bot host with the plugin",
    "Admin connects the plugin (OAuth: log in, Allow)",
    "Admin deploys the generated Salesforce package",
    "Contact writes, the bot answers",
    "Bot hands off: a Case with the transcript",
    "Rep replies on the Case: the contact gets it",
    "Contact writes again: appended to the same Case",
    "Rep adds an internal note: not delivered",
    "Rep closes the Case: the conversation resolves",
]


def test_the_demo_command_runs_every_step_and_exits_0() -> None:
    script = Path(sys.executable).with_name("opencx-salesforce")
    done = subprocess.run(
        [str(script), "demo"], capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, done.stdout + done.stderr
    for step in STEPS:
        assert f"✓ {step}" in done.stdout, f"missing step: {step}\n{done.stdout}"
    assert "Summary" in done.stdout
    assert "Traceback" not in done.stdout + done.stderr


@pytest.mark.browser
async def test_the_pages_after_the_demo_show_the_reply_and_the_resolution(
    browser: Browser, tmp_path: Path
) -> None:
    demo = Demo(Timeline(plain=True), workdir=tmp_path)
    try:
        assert await demo.run()
        page = await browser.new_page(viewport={"width": 1200, "height": 900})
        page.set_default_timeout(10_000)

        await page.goto(f"{demo.host_url}/inbox/{demo.session_id}")
        await page.get_by_label("Admin token").fill(demo.admin_token)
        await page.get_by_role("button", name="Sign in").click()
        await expect(page.get_by_text("Riley Rep")).to_be_visible()
        await expect(page.get_by_text("replacement ships today")).to_be_visible()
        await expect(page.locator("h2 .badge")).to_have_text("resolved")
        await expect(page.locator("#case-link")).to_have_text(demo.case_id)
        # The link opens the Case where Salesforce would (Lightning), here the emulator.
        await page.locator("#case-link").click()
        await expect(page.get_by_text("Carrier claim CL-99812")).to_be_visible()
        await page.goto(f"{demo.host_url}/inbox/{demo.session_id}")
        await page.screenshot(path=str(tmp_path / "inbox.png"), full_page=True)
        shutil.copy(tmp_path / "inbox.png", "/tmp/demo-inbox.png")

        # The settings page reports the replies that came back.
        await page.goto(f"{demo.host_url}/integrations/salesforce/admin")
        figures = page.locator("#reply-figures")
        await expect(figures).to_contain_text("case.updated")
        await expect(figures).to_contain_text("Replies delivered1 (0 by the sweep)")
        await expect(figures).to_contain_text("Conversations resolved1")
        await page.screenshot(path=str(tmp_path / "settings.png"), full_page=True)
        shutil.copy(tmp_path / "settings.png", "/tmp/demo-settings.png")

        assert demo.org is not None
        await page.goto(
            f"{demo.emulator.base_url}/_emulator/orgs/{demo.org.id}/cases/{demo.case_id}"
        )
        await expect(page.get_by_text("replacement ships today")).to_be_visible()
        await expect(page.get_by_text("Carrier claim CL-99812")).to_be_visible()
        await page.screenshot(path=str(tmp_path / "case.png"), full_page=True)
        shutil.copy(tmp_path / "case.png", "/tmp/demo-case.png")
    finally:
        await demo.close_all()


def test_the_live_demo_hands_a_chat_to_an_agent_and_exits_0() -> None:
    script = Path(sys.executable).with_name("opencx-salesforce")
    done = subprocess.run(
        [str(script), "demo", "--live", "--plain"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    demo = LiveDemo(Timeline(plain=True))
    for title, _ in demo.steps():
        assert f"✓ {title}" in done.stdout, f"missing step: {title}\n{done.stdout}"
    assert "resumed from Last-Event-Id" in done.stdout
    assert "Traceback" not in done.stdout + done.stderr
