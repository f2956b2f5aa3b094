"""Disconnect: the grant is revoked at Salesforce and forgotten here, with the
secret saved on the page, and the page lists what to delete in Salesforce."""

from __future__ import annotations

from pathlib import Path
from xml.etree import ElementTree

import aiohttp
import pytest
from admin_support import (
    ADMIN_PATH,
    ADMIN_TOKEN,
    PREFIX,
    Stack,
    StartStack,
    connect_through_page,
    sign_in_on_salesforce,
    text_of,
)

from opencx_salesforce.apex import names
from opencx_salesforce.apex.render import render_package
from opencx_salesforce.emulator.app import Emulator
from opencx_salesforce.emulator.seed import DEMO_CLIENT_ID, DEMO_CLIENT_SECRET
from opencx_salesforce.salesforce.errors import AuthorizationError
from opencx_salesforce.salesforce.oauth import OAuthClient
from opencx_salesforce.salesforce.tokens import ConnectionState
from opencx_salesforce.web.admin.connection import cleanup_lines
from opencx_salesforce.web.admin.views import SalesforceCleanup


def assert_cleanup_listed(text: str) -> None:
    assert names.NAMED_CREDENTIAL in text and names.EXTERNAL_CREDENTIAL in text
    assert names.CALLOUT_CLASS in text and names.DIGEST_CLASS in text
    assert names.TEST_CLASS in text and names.DIGEST_TEST_CLASS in text
    assert names.CALLOUT_PERMISSION_SET in text and "stop-digest.apex" in text
    for trigger in names.TRIGGERS:
        assert trigger in text
    assert "Cases in Salesforce stay untouched" in text


async def test_disconnect_revokes_at_salesforce_and_forgets_everything(stack: Stack) -> None:
    browser, page = await connect_through_page(stack)
    assert_cleanup_listed(text_of(page.text))  # shown before, so the admin knows
    grant = await stack.runtime.tokens.access_token()
    assert grant.refresh_token

    after = await browser.submit(page, "/admin/disconnect")
    assert after.url.endswith(f"{ADMIN_PATH}?notice=disconnected")
    text = text_of(after.text)
    assert "Disconnected" in text
    assert "Not configured" in text  # the secret saved on the page is gone too
    assert_cleanup_listed(text)
    assert "Keep the Case fields Case_From__c and OpenCX_Session_Id__c" in text
    assert "Connected as" not in text
    assert stack.runtime.webhook_url not in after.text
    assert (await stack.runtime.tokens.status()).state is ConnectionState.NOT_CONFIGURED
    assert await stack.runtime.tokens.credentials() is None

    # Salesforce no longer honours the refresh token.
    async with aiohttp.ClientSession() as http:
        with pytest.raises(AuthorizationError) as refused:
            await OAuthClient(http).refresh(
                stack.login_url,
                stack.credentials_form()["client_id"],
                stack.credentials_form()["client_secret"],
                grant.refresh_token,
            )
    assert refused.value.error == "invalid_grant"


async def test_a_script_disconnects_with_json(stack: Stack) -> None:
    await connect_through_page(stack)
    async with (
        aiohttp.ClientSession() as http,
        http.post(
            stack.base_url + PREFIX + "/admin/disconnect",
            headers={"Authorization": f"Bearer {ADMIN_TOKEN}", "Accept": "application/json"},
        ) as response,
    ):
        body = await response.json()
        assert response.status == 200, body
    assert body["revoked"] is True
    assert body["status"]["state"] == "not_configured"
    assert body["cases"] == "untouched"
    assert body["delete_in_salesforce"]["named_credential"] == names.NAMED_CREDENTIAL
    assert names.CALLOUT_CLASS in body["delete_in_salesforce"]["apex_classes"]
    assert set(body["delete_in_salesforce"]["triggers"]) == set(names.TRIGGERS)
    assert names.DIGEST_CLASS in body["delete_in_salesforce"]["apex_classes"]
    assert body["delete_in_salesforce"]["external_credential"] == names.EXTERNAL_CREDENTIAL
    assert names.CALLOUT_PERMISSION_SET in body["delete_in_salesforce"]["permission_sets"]


async def test_credentials_from_the_config_file_stay_configured(
    start_stack: StartStack, emulator: Emulator
) -> None:
    stack = await start_stack(
        plugin={
            "login_url": emulator.base_url,
            "client_id": DEMO_CLIENT_ID,
            "client_secret": DEMO_CLIENT_SECRET,
        }
    )
    browser = await stack.signed_in()
    page = await browser.get(ADMIN_PATH)
    text = text_of(page.text)
    assert "Credentials saved, not connected yet" in text
    assert "These credentials come from the configuration file" in text
    answer = await browser.submit(page, "/admin/connect", follow=False)
    page = await browser.get(
        await sign_in_on_salesforce(browser.session, answer.headers["Location"])
    )
    assert "Connected as" in text_of(page.text)

    after = await browser.submit(page, "/admin/disconnect")
    text = text_of(after.text)
    assert "Disconnected" in text
    # What the settings file configures is still there: ready to Connect again.
    assert "Credentials saved, not connected yet" in text


def test_the_cleanup_lists_everything_the_package_deletes(tmp_path: Path) -> None:
    # The page, `connect --disconnect` and the JSON had left out the digest's
    # classes, the External Credential and the callout permission set.
    render_package(tmp_path, webhook_url="https://bot.example.com/hook", signing_secret="s" * 32)
    manifest = ElementTree.parse(tmp_path / "disconnect" / "destructiveChanges.xml")
    ns = {"m": "http://soap.sforce.com/2006/04/metadata"}
    deleted = {
        member.text
        for kind in manifest.getroot().findall("m:types", ns)
        if kind.findtext("m:name", namespaces=ns) != "CustomMetadata"  # goes with its type
        for member in kind.findall("m:members", ns)
    }
    listed = "\n".join(cleanup_lines(SalesforceCleanup()))
    assert deleted and {name for name in deleted if name not in listed} == set()
    assert "stop-digest.apex" in listed.splitlines()[0]
