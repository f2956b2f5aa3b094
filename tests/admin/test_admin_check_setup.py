"""The settings page's "Check setup": the doctor's checks, from the browser."""

from __future__ import annotations

from admin_support import ADMIN_PATH, Stack, connect_through_page, text_of

from opencx_salesforce.emulator.package import deploy_package


async def test_check_setup_lists_each_check_and_says_what_to_fix(stack: Stack) -> None:
    browser, page = await connect_through_page(stack)
    assert "Check setup" in text_of(page.text)

    # Package not deployed yet: the Apex and Named Credential checks fail with a fix.
    result = await browser.submit(page, "/admin/check")
    text = text_of(result.text)
    assert "Something needs fixing" in text
    assert "✗" in text and "Apex" in text

    # Deployed, pointing at this install: all green.
    assert stack.org is not None
    deploy_package(stack.org, stack.runtime.webhook_url, stack.runtime.signing_secret)
    page = await browser.get(ADMIN_PATH)
    result = await browser.submit(page, "/admin/check")
    assert "Everything checks out." in text_of(result.text), text_of(result.text)


async def test_check_setup_needs_the_csrf_token(stack: Stack) -> None:
    browser, _ = await connect_through_page(stack)
    answer = await browser.post("/integrations/salesforce/admin/check", {"csrf_token": "forged"})
    assert answer.status == 403
