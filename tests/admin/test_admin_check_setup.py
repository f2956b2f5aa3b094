"""The settings page's "Check setup" (the doctor's checks, from the browser) and its
word on the package's digest."""

from __future__ import annotations

import json

from admin_support import ADMIN_PATH, PREFIX, Stack, connect_through_page, text_of

from opencx_salesforce.apex import names
from opencx_salesforce.emulator.package import deploy_package
from opencx_salesforce.web.admin.views import code_spans, digest_line, format_time

STATUS_PATH = f"{PREFIX}/admin/status.json"


async def test_check_setup_lists_each_check_and_says_what_to_fix(stack: Stack) -> None:
    browser, page = await connect_through_page(stack)
    assert "Check setup" in text_of(page.text)

    # Package not deployed yet: the Apex and Named Credential checks fail with a fix.
    result = await browser.submit(page, "/admin/check")
    text = text_of(result.text)
    assert "Something needs fixing" in text
    assert "✗" in text and "Apex" in text

    # Deployed, pointing at this install, the digest not started yet: nothing is
    # broken, and the page does not say "everything" while a warning stands.
    assert stack.org is not None
    apex = deploy_package(stack.org, stack.runtime.webhook_url, stack.runtime.signing_secret)
    page = await browser.get(ADMIN_PATH)
    result = await browser.submit(page, "/admin/check")
    text = text_of(result.text)
    assert "Nothing is broken. 1 warning below says what to look at." in text, text
    assert "Everything checks out." not in text
    # The fix is written for a terminal: its `command` is set as code here.
    assert "<code>sf apex run --file scripts/apex/start-digest.apex" in result.text
    assert "`sf apex run" not in result.text
    assert "(troubleshooting: “Rep replies don't reach the contact”)" in text

    # The digest started, and its first run a minute later: all green.
    await apex.execute_anonymous(f"{names.DIGEST_CLASS}.start();")
    stack.org.state.clock.advance(60.0)
    assert await apex.digest.run_due()
    page = await browser.get(ADMIN_PATH)
    result = await browser.submit(page, "/admin/check")
    assert "Everything checks out." in text_of(result.text), text_of(result.text)


async def test_check_setup_needs_the_csrf_token(stack: Stack) -> None:
    browser, _ = await connect_through_page(stack)
    answer = await browser.post("/integrations/salesforce/admin/check", {"csrf_token": "forged"})
    assert answer.status == 403


def test_code_spans_escape_the_text_and_set_its_backquoted_parts_as_code() -> None:
    fix = "Run `sf apex run --target-org <alias>` as <b>you</b>; a lone ` stays"
    assert str(code_spans(fix)) == (
        "Run <code>sf apex run --target-org &lt;alias&gt;</code> as &lt;b&gt;you&lt;/b&gt;;"
        " a lone ` stays"
    )


async def test_the_settings_page_says_when_the_last_digest_came(stack: Stack) -> None:
    browser, page = await connect_through_page(stack)
    assert "Last digest none yet" in text_of(page.text), text_of(page.text)
    assert json.loads((await browser.get(STATUS_PATH)).text)["last_digest_at"] is None

    assert stack.org is not None
    apex = deploy_package(stack.org, stack.runtime.webhook_url, stack.runtime.signing_secret)
    await apex.execute_anonymous(f"{names.DIGEST_CLASS}.start();")
    stack.org.state.clock.advance(60.0)
    assert await apex.digest.run_due()

    arrived = await stack.runtime.digests.last_at()
    assert arrived is not None
    page = await browser.get(ADMIN_PATH)
    assert f"Last digest {format_time(arrived)}" in text_of(page.text), text_of(page.text)
    assert json.loads((await browser.get(STATUS_PATH)).text)["last_digest_at"] == arrived


def test_a_late_digest_says_so_and_where_to_look() -> None:
    assert digest_line(None, 1000.0, 180.0).startswith("none yet")
    assert digest_line(1000.0, 1179.0, 180.0) == format_time(1000.0)
    assert digest_line(1000.0, 1600.0, 180.0) == (
        f"{format_time(1000.0)} · late: it comes every minute, none for 10 min"
        " (Check setup says why)"
    )


async def test_the_settings_page_shows_refused_webhook_calls(stack: Stack) -> None:
    # A package deployed with another install's signing secret: every call is
    # refused, and only status.json had said so.
    browser, page = await connect_through_page(stack)
    assert "Webhooks refused" not in text_of(page.text)
    assert stack.org is not None
    apex = deploy_package(stack.org, stack.runtime.webhook_url, "another-installs-secret" * 2)
    await apex.execute_anonymous(f"{names.CALLOUT_CLASS}.ping();")
    page = await browser.get(ADMIN_PATH)
    text = text_of(page.text)
    assert "Webhooks refused 1 × 401 signature since this instance started" in text, text
