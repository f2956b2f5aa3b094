"""Helpers of the doctor tests (a uniquely named module: several test folders
have a ``conftest``).

A test here starts the whole local stack over real HTTP (the emulator with an
org, the reference host with the plugin), deploys the generated package into
the org with the emulator's ``deploy_package`` (the simulated ``sf project
deploy``), breaks one thing the way an org gets broken, and reads what the
doctor says.
"""

from __future__ import annotations

import html.parser
import json
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any
from urllib.parse import urljoin

import aiohttp

from opencx_salesforce.devhost.stack import Stack
from opencx_salesforce.doctor import CheckResult, DoctorReport, Status
from opencx_salesforce.emulator.seed import DEMO_CLIENT_ID, DEMO_CLIENT_SECRET

SECRET = "whsec_doctor_test_0123456789abcdef"
ADMIN_TOKEN = "admin-token-for-the-doctor-tests-42"
SALESFORCE_ADMIN = ("admin@acme.example", "admin-password")

# Tests run sweeps themselves (never, here): the background one runs only at start.
PLUGIN_SETTINGS: dict[str, Any] = {
    "webhook_signing_secret": SECRET,
    "sweep_interval_seconds": 3600,
}

# make_stack's signature (see conftest).
StackFactory = Callable[..., Awaitable[Stack]]

CHECK_IDS = (
    "credentials",
    "connection",
    "api",
    "api_usage",
    "case_fields",
    "email_message",
    "apex",
    "named_credential",
    "ping",
    "digest",
    "outbox",
    "store",
    "live",
    "live_field",
)
# Everything that needs the API or the package (not outbox, store, live).
SALESFORCE_CHECKS = (*CHECK_IDS[2:-4], "live_field")


def statuses(report: DoctorReport) -> dict[str, Status]:
    return {r.id: r.status for r in report.results}


def result(report: DoctorReport, check_id: str) -> CheckResult:
    return next(r for r in report.results if r.id == check_id)


def only_failure(report: DoctorReport) -> CheckResult:
    """The one failed check; every other check passed or was skipped because of it."""
    failed = [r for r in report.results if r.status is Status.FAIL]
    assert len(failed) == 1, [(r.id, r.status, r.detail) for r in report.results]
    warned = [r for r in report.results if r.status is Status.WARN]
    assert not warned, [(r.id, r.detail) for r in warned]
    assert report.exit_code == 1
    return failed[0]


def skipped(report: DoctorReport) -> set[str]:
    return {r.id for r in report.results if r.status is Status.SKIP}


def org_api_calls(stack: Stack) -> int:
    """REST calls the emulated org has counted (its DailyApiRequests)."""
    return int(sum(stack.org.api_calls.by_endpoint.values()))


# --- connecting the way an admin does: the browser sign-in (web server flow) --------------


class _Forms(html.parser.HTMLParser):
    """The forms of a page: action and the named inputs' values."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.forms: list[tuple[str, dict[str, str]]] = []

    def handle_starttag(self, tag: str, attrs_list: list[tuple[str, str | None]]) -> None:
        attrs = {k: v or "" for k, v in attrs_list}
        if tag == "form":
            self.forms.append((attrs.get("action", ""), {}))
        elif tag == "input" and self.forms and "name" in attrs:
            kind = attrs.get("type", "text").lower()
            if kind != "submit":  # the caller picks the button it presses
                self.forms[-1][1][attrs["name"]] = attrs.get("value", "")


def _forms(page: str) -> list[tuple[str, dict[str, str]]]:
    parser = _Forms()
    parser.feed(page)
    return parser.forms


async def connect_with_browser(stack: Stack) -> None:
    """Save the Connected App's credentials, click Connect (the TokenManager call
    the settings page makes), log in and Allow on Salesforce's pages, and land on
    the plugin's OAuth callback, as the admin's browser does. The grant then holds
    a refresh token, as a real admin's does."""
    services = stack.runtime
    await services.tokens.save_credentials(
        stack.emulator.base_url, DEMO_CLIENT_ID, DEMO_CLIENT_SECRET
    )
    url = await services.tokens.start_authorization(services.redirect_uri, services.settings.scopes)
    jar = aiohttp.CookieJar(unsafe=True)  # keep the emulator's session cookie on 127.0.0.1
    async with aiohttp.ClientSession(cookie_jar=jar) as browser:
        method, data = "GET", None
        for _ in range(10):
            async with browser.request(method, url, data=data, allow_redirects=False) as answer:
                page = await answer.text()
                location = answer.headers.get("Location")
            if location is not None:
                url, method, data = urljoin(url, location), "GET", None
                if url.startswith(services.redirect_uri):
                    break
                continue
            action, fields = _forms(page)[-1]
            if "pw" in fields:  # the login page
                fields.update(username=SALESFORCE_ADMIN[0], pw=SALESFORCE_ADMIN[1], Login="Log In")
            else:  # "Allow Access?"
                fields["save"] = "Allow"
            url, method, data = urljoin(url, action), "POST", fields
        else:
            raise AssertionError("the sign-in never came back to the plugin")
        async with browser.get(url) as landed:
            assert landed.status == 200, await landed.text()
    status = await services.tokens.status()
    assert status.state == "connected", status


# --- the host's config file, as the commands read it ---------------------------------------


def write_config(
    folder: Path,
    *,
    store_url: str,
    public_url: str | None,
    salesforce: dict[str, Any],
) -> Path:
    """A host TOML file. Values go through JSON, whose strings, numbers and
    booleans TOML reads the same."""
    lines = ["[host]"]
    if public_url is not None:
        lines.append(f"public_url = {json.dumps(public_url)}")
    lines += [
        f"store_url = {json.dumps(store_url)}",
        f"admin_token = {json.dumps(ADMIN_TOKEN)}",
        "",
        "[salesforce]",
    ]
    lines += [f"{key} = {json.dumps(value)}" for key, value in salesforce.items()]
    path = folder / "opencx.toml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def stack_config(folder: Path, stack: Stack, store_url: str) -> Path:
    """The config file of the host ``stack`` runs: its public URL, its store,
    the plugin's table as the stack's host has it."""
    return write_config(
        folder,
        store_url=store_url,
        public_url=stack.host_url,
        salesforce={"dev_mode": True, "login_url": stack.emulator.base_url, **PLUGIN_SETTINGS},
    )
