"""Connect the Salesforce plugin of any host, by script, through its settings
routes: what an admin does on the settings page, over HTTP.

The plugin's settings routes take scripts as well as browsers (the host's admin
credentials, ``Accept: application/json``), so connecting needs nothing of the
host but its URL and an admin's headers::

    status = await connect_through_settings(
        "https://bot.example.com/integrations/salesforce",
        admin_headers={"Authorization": "Bearer <admin token>"},
        login_url="https://login.salesforce.com",
        client_id="3MVG9…", client_secret="…",
        sign_in=print_sign_in_url,        # a person opens it and clicks Allow
    )

1. ``POST {plugin}/admin/credentials`` saves the Connected App's credentials
   (the plugin checks them with Salesforce first);
2. ``POST {plugin}/admin/connect`` answers the Salesforce sign-in URL;
3. ``sign_in(url)`` gets a browser through it: a person, or, against the
   emulator, :func:`emulator_sign_in`, which fills in its login and "Allow"
   pages; Salesforce then sends the browser to the plugin's OAuth callback;
4. ``GET {plugin}/admin/status.json`` until the plugin says ``connected``.

The emulator's pytest fixture ``salesforce_connect`` does all of it for a
default org (see :mod:`opencx_salesforce.emulator.pytest_plugin`).
"""

from __future__ import annotations

import asyncio
import io
import time
import zipfile
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

import aiohttp

from opencx_salesforce.apex import names
from opencx_salesforce.demo.browser import Browser
from opencx_salesforce.emulator.package.deploy import custom_metadata_value
from opencx_salesforce.errors import OpenCXSalesforceError

SignIn = Callable[[str], Awaitable[None]]
SETTINGS_RECORD_FILE = f"{names.SETTINGS_RECORD_FULL_NAME}.md-meta.xml"


class ConnectFailed(OpenCXSalesforceError):
    """The plugin did not get connected; the message says at which step."""


async def print_sign_in_url(url: str) -> None:
    """A ``sign_in`` for a real org: a person opens the URL and clicks Allow."""
    print(f"Open this URL, sign in to Salesforce and click Allow:\n{url}", flush=True)


def emulator_sign_in(username: str, password: str) -> SignIn:
    """A ``sign_in`` that logs in on the emulator's pages and clicks Allow."""

    async def sign_in(url: str) -> None:
        jar = aiohttp.CookieJar(unsafe=True)  # cookies on 127.0.0.1
        async with aiohttp.ClientSession(cookie_jar=jar) as http:
            browser = Browser(http)
            login = await browser.get(url)
            allow = await browser.submit(
                login,
                login.form(id="login_form"),
                {"username": username, "pw": password},
                button="Login",
            )
            if 'id="approval_form"' in allow.text:  # not shown once the user approved
                allow = await browser.submit(allow, allow.form(id="approval_form"), button="save")
            if allow.status >= 400:
                raise ConnectFailed(f"the sign-in ended on {allow.url} with HTTP {allow.status}")

    return sign_in


async def connect_through_settings(
    plugin_url: str,
    *,
    admin_headers: Mapping[str, str],
    login_url: str,
    client_id: str,
    client_secret: str,
    sign_in: SignIn,
    timeout: float = 600.0,
) -> dict[str, Any]:
    """Connect the plugin mounted at ``plugin_url`` (``…/integrations/salesforce``);
    its ``status.json`` once connected (``webhook_url`` is the URL for the package)."""
    base = plugin_url.rstrip("/")
    headers = {**admin_headers, "Accept": "application/json"}
    async with aiohttp.ClientSession() as http:
        credentials = {
            "client_id": client_id,
            "client_secret": client_secret,
            "login_url": login_url,
        }
        async with http.post(f"{base}/admin/credentials", json=credentials, headers=headers) as r:
            body = await r.json()
            if r.status != 200:
                raise ConnectFailed(f"saving the credentials: HTTP {r.status}: {body}")
        async with http.post(f"{base}/admin/connect", json={}, headers=headers) as r:
            body = await r.json()
            if r.status != 200:
                raise ConnectFailed(f"starting the sign-in: HTTP {r.status}: {body}")
        await sign_in(str(body["url"]))
        deadline = time.monotonic() + timeout
        while True:
            async with http.get(f"{base}/admin/status.json", headers=headers) as r:
                status: dict[str, Any] = await r.json()
            if status.get("state") == "connected":
                return status
            if time.monotonic() > deadline:
                raise ConnectFailed(f"not connected after {timeout:.0f} s: {status.get('state')}")
            await asyncio.sleep(0.05)


async def download_package(plugin_url: str, *, admin_headers: Mapping[str, str]) -> bytes:
    """The generated Salesforce package (``GET {plugin}/admin/package.zip``), as an
    admin downloads it from the settings page."""
    url = f"{plugin_url.rstrip('/')}/admin/package.zip"
    async with aiohttp.ClientSession() as http, http.get(url, headers=admin_headers) as r:
        if r.status != 200:
            raise ConnectFailed(f"downloading the package: HTTP {r.status}: {await r.text()}")
        return await r.read()


def package_signing_secret(package: bytes) -> str | None:
    """The webhook signing secret a generated package carries (its
    ``OpenCX_Settings`` custom metadata record), or None for an unsigned package."""
    with zipfile.ZipFile(io.BytesIO(package)) as archive:
        record = next((n for n in archive.namelist() if n.endswith(SETTINGS_RECORD_FILE)), None)
        if record is None:
            return None
        xml_source = archive.read(record).decode("utf-8")
    return custom_metadata_value(xml_source, names.SIGNING_SECRET_FIELD)
