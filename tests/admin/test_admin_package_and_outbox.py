"""The package download and the outbox section of the settings page."""

from __future__ import annotations

import asyncio
import io
import time
import zipfile
from dataclasses import replace

import aiohttp
from admin_support import (
    ADMIN_PATH,
    ADMIN_TOKEN,
    PREFIX,
    Stack,
    StartStack,
    connect_through_page,
    text_of,
)

from opencx_salesforce.apex import names
from opencx_salesforce.emulator.seed import (
    DEMO_CLIENT_ID,
    DEMO_CLIENT_SECRET,
    OrgSeed,
    default_org,
)
from opencx_salesforce.store.base import ItemState
from opencx_salesforce.web.admin.package import TOP_FOLDER

SIGNING_SECRET = "signing-secret-for-the-package-test-0123"
NAMED_CREDENTIAL_FILE = (
    f"{TOP_FOLDER}/force-app/main/default/namedCredentials/"
    f"{names.NAMED_CREDENTIAL}.namedCredential-meta.xml"
)
SECRET_RECORD_FILE = (
    f"{TOP_FOLDER}/force-app/main/default/customMetadata/"
    f"{names.SETTINGS_RECORD_FULL_NAME}.md-meta.xml"
)


async def download(stack: Stack) -> zipfile.ZipFile:
    async with (
        aiohttp.ClientSession() as http,
        http.get(
            stack.base_url + PREFIX + "/admin/package.zip",
            headers={"Authorization": f"Bearer {ADMIN_TOKEN}"},
        ) as response,
    ):
        assert response.status == 200
        assert response.content_type == "application/zip"
        assert "attachment" in response.headers["Content-Disposition"]
        return zipfile.ZipFile(io.BytesIO(await response.read()))


async def test_the_package_points_at_this_installs_webhook_url(start_stack: StartStack) -> None:
    stack = await start_stack(plugin={"webhook_signing_secret": SIGNING_SECRET})
    _, page = await connect_through_page(stack)
    assert f'href="{PREFIX}/admin/package.zip"' in page.text

    package = await download(stack)
    named_credential = package.read(NAMED_CREDENTIAL_FILE).decode()
    assert stack.runtime.webhook_url in named_credential
    assert SIGNING_SECRET in package.read(SECRET_RECORD_FILE).decode()
    assert f"{TOP_FOLDER}/README.md" in package.namelist()
    assert all(name.startswith(f"{TOP_FOLDER}/") for name in package.namelist())


async def test_signing_is_on_by_default_with_a_secret_made_for_the_install(
    start_stack: StartStack,
) -> None:
    # Issue 16 item 10: no secret configured, and still a signed package.
    first = await start_stack()
    _, page = await connect_through_page(first)
    assert "The package signs every call" in text_of(page.text)
    secret = first.runtime.signing_secret
    assert secret is not None and len(secret) >= 32
    package = await download(first)
    assert secret in package.read(SECRET_RECORD_FILE).decode()
    readme = package.read(f"{TOP_FOLDER}/README.md").decode()
    assert "every call is signed" in readme and "This package is unsigned" not in readme
    # The webhook refuses an unsigned call, so a copy of the URL is not enough.
    body = (
        b'{"event":"ping","orgId":"00D5g0000000001AAA","caseId":null,"recordId":null,'
        b'"occurredAt":"2026-11-25T01:40:00Z"}'
    )
    async with (
        aiohttp.ClientSession() as http,
        http.post(
            first.runtime.webhook_url,
            data=body,
            headers={"Content-Type": "application/json", "X-OpenCX-Timestamp": "1"},
        ) as answer,
    ):
        assert answer.status == 401


async def test_webhook_signing_false_is_the_documented_opt_out(start_stack: StartStack) -> None:
    stack = await start_stack(plugin={"webhook_signing": False})
    _, page = await connect_through_page(stack)
    assert "The package is unsigned" in text_of(page.text)
    assert stack.runtime.signing_secret is None
    package = await download(stack)
    assert SECRET_RECORD_FILE not in package.namelist()
    readme = package.read(f"{TOP_FOLDER}/README.md").decode()
    assert "This package is unsigned" in readme


async def dead_letters(stack: Stack, count: int) -> None:
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        dead = await stack.runtime.outbox.items(ItemState.DEAD)
        if len(dead) >= count:
            return
        await asyncio.sleep(0.02)
    raise AssertionError("the handoff never became a dead letter")


async def test_dead_letters_are_listed_with_their_error_and_can_be_retried(
    start_stack: StartStack,
) -> None:
    # An org without the plugin's Case fields: every handoff is refused by
    # Salesforce (retrying cannot help), so it becomes a dead letter at once.
    def bare_org(redirect_uri: str) -> OrgSeed:
        return replace(default_org(callback_urls=(redirect_uri,)), custom_fields=())

    stack = await start_stack(seed=bare_org)
    tokens = stack.runtime.tokens
    await tokens.save_credentials(stack.login_url, DEMO_CLIENT_ID, DEMO_CLIENT_SECRET)
    await tokens.connect_client_credentials()
    for topic in ("Refund", "Broken order"):
        session = await stack.host.create_session(topic=topic)
        await stack.host.handoff(session.id)
    await dead_letters(stack, 2)
    await stack.runtime.outbox.stop()  # keep them dead while the test looks

    browser = await stack.signed_in()
    page = await browser.get(ADMIN_PATH)
    text = text_of(page.text)
    assert "0 pending · 2 dead letters" in text
    assert "Case_From__c" in text  # the last error, shown per row
    dead = await stack.runtime.outbox.items(ItemState.DEAD)
    one = dead[0].item_id

    retried = await browser.submit(page, "/admin/dead-letters/retry", item_id=one)
    assert "1 dead letter(s) queued again" in text_of(retried.text)
    states = {i.item_id: i.state for i in await stack.runtime.outbox.items()}
    assert states[one] is ItemState.READY
    assert list(states.values()).count(ItemState.DEAD) == 1
    assert "1 pending · 1 dead letter" in text_of(retried.text)

    # "Retry all" is the form without an item_id.
    forms = [f for f in retried.text.split("<form") if "dead-letters/retry" in f]
    assert any('name="item_id"' not in f for f in forms)
    async with (
        aiohttp.ClientSession() as http,
        http.post(
            stack.base_url + PREFIX + "/admin/dead-letters/retry",
            headers={"Authorization": f"Bearer {ADMIN_TOKEN}", "Accept": "application/json"},
        ) as response,
    ):
        assert await response.json() == {"retried": 1}
    assert not await stack.runtime.outbox.items(ItemState.DEAD)
    # status.json lists the pending jobs with their last error, as the page's
    # Outbox card does (it had only their count).
    async with (
        aiohttp.ClientSession() as http,
        http.get(
            stack.base_url + PREFIX + "/admin/status.json",
            headers={"Authorization": f"Bearer {ADMIN_TOKEN}"},
        ) as response,
    ):
        outbox = (await response.json())["outbox"]
    assert outbox["pending"] == 2 and len(outbox["pending_jobs"]) == 2
    assert all("NOT_FOUND" in (job["last_error"] or "") for job in outbox["pending_jobs"])


async def test_the_last_sweep_says_when_there_was_nothing_to_look_at(
    start_stack: StartStack,
) -> None:
    # With no open Case the sweep reads nothing; the page said "0 API call(s),
    # lag 0 s", as if it had looked and found Salesforce in step.
    stack = await start_stack()
    browser, page = await connect_through_page(stack)
    report = await stack.runtime.sweeper.run_once()
    assert report is not None and report.idle
    page = await browser.get(ADMIN_PATH)
    assert "Last sweep no open Case to look at: no API call" in text_of(page.text)


async def test_a_failed_sweep_is_said_first_and_apart_from_the_last_that_ran(
    start_stack: StartStack,
) -> None:
    # "no open Case to look at: no API call · TransportError: …" read as one
    # sweep that both found nothing to do and failed.
    stack = await start_stack()
    browser, _ = await connect_through_page(stack)
    assert await stack.runtime.sweeper.run_once() is not None  # idle: nothing open
    stack.runtime.reply_status.last_sweep_error = "TransportError: could not reach Salesforce"
    page = await browser.get(ADMIN_PATH)
    assert (
        "Last sweep failed: TransportError: could not reach Salesforce · the last that ran: "
        "no open Case to look at: no API call"
    ) in text_of(page.text)
