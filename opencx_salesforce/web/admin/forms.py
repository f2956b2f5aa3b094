"""Reading what the settings page (or a script) posted.

Browsers post ``application/x-www-form-urlencoded``; scripts may post JSON with
the same field names. Values are trimmed: a Client ID pasted with a trailing
space or newline is the most common reason credentials "won't save".
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from urllib.parse import urlsplit

from aiohttp import web

from opencx_salesforce.salesforce.hosts import on_salesforce_domain
from opencx_salesforce.settings.loader import check_service_url
from opencx_salesforce.web.admin.views import LOGIN_CHOICES


async def read_form(request: web.Request) -> dict[str, str]:
    """The posted fields as text (other JSON values are ignored)."""
    if request.content_type == "application/json":
        try:
            data = await request.json()
        except (ValueError, RecursionError, LookupError):
            # LookupError: a charset Python does not know (charset=nope); ValueError
            # also covers bytes that are not in the charset and integers past
            # Python's 4,300-digit conversion limit.
            raise web.HTTPBadRequest(
                text='{"error": "the body is not valid JSON"}', content_type="application/json"
            ) from None
        if not isinstance(data, dict):
            raise web.HTTPBadRequest(
                text='{"error": "expected a JSON object"}', content_type="application/json"
            )
        return {str(k): v.strip() for k, v in data.items() if isinstance(v, str)}
    try:
        posted = await request.post()
    except (ValueError, UnicodeDecodeError, AssertionError, LookupError):
        # aiohttp's form parser raises these on a malformed multipart body, bytes
        # that are not UTF-8 or an unknown charset: the client's fault, said as such.
        raise web.HTTPBadRequest(
            text='{"error": "the form body is malformed"}', content_type="application/json"
        ) from None
    return {k: v.strip() for k, v in posted.items() if isinstance(v, str)}


@dataclass(frozen=True)
class CredentialsInput:
    client_id: str
    client_secret: str
    login_url: str  # "" when the choice is custom and the field was left empty
    choice: str
    custom_url: str


def credentials_input(form: dict[str, str]) -> CredentialsInput:
    """The credentials fields. ``login_url`` (scripts) wins over the page's
    ``login_choice`` radio buttons + ``custom_login_url`` field."""
    custom = form.get("custom_login_url", "")
    if form.get("login_url"):
        url = form["login_url"]
        choice = next((c for c, _, u in LOGIN_CHOICES if u == url.rstrip("/")), "custom")
        return CredentialsInput(
            form.get("client_id", ""),
            form.get("client_secret", ""),
            url,
            choice,
            url if choice == "custom" else "",
        )
    choice = form.get("login_choice", "production")
    known = {c: u for c, _, u in LOGIN_CHOICES}
    login_url = known.get(choice, custom)
    if choice not in known:
        choice = "custom"
    return CredentialsInput(
        form.get("client_id", ""), form.get("client_secret", ""), login_url, choice, custom
    )


def check_login_url(value: str, *, configured: str, allow_loopback: bool) -> str:
    """The login URL without a trailing slash; ValueError says what is wrong.

    Save Credentials posts the Client Secret to this URL, and the page is a form
    anyone with the admin's session can fill, so only these are accepted:

    * https on Salesforce's domains (login/test.salesforce.com, My Domains);
    * the ``login_url`` of the settings file (``configured``): the operator chose it;
    * http(s) on loopback (a local emulator) only when ``allow_loopback`` (dev mode).
    """
    if not value:
        raise ValueError("Enter the org's My Domain URL, such as https://acme.my.salesforce.com.")
    try:
        url = check_service_url(value, example="https://acme.my.salesforce.com")
    except ValueError as exc:
        raise ValueError(f"Login URL: {exc}.") from None
    parts = urlsplit(url)
    if parts.path not in ("", "/"):
        # OAuth paths are appended to it; a path here would be doubled.
        raise ValueError(
            "Login URL: expected the site root such as https://acme.my.salesforce.com, "
            "without a path."
        )
    host = parts.hostname or ""
    if parts.scheme == "https" and on_salesforce_domain(host):
        return url
    if _origin(url) == _origin(configured):
        return url
    if allow_loopback and is_loopback(host):
        return url
    raise ValueError(
        f"Login URL: {host} is not a Salesforce address. The Client Secret is only sent to "
        "Salesforce: https://login.salesforce.com, https://test.salesforce.com or the org's "
        "My Domain (https://acme.my.salesforce.com). Another login host (a local emulator) "
        "must be set as login_url in the plugin's settings, or the plugin run in dev_mode."
    )


def _origin(url: str) -> tuple[str, str, int | None]:
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    return (
        scheme,
        (parts.hostname or "").lower(),
        parts.port or {"http": 80, "https": 443}.get(scheme),
    )


def is_loopback(host: str) -> bool:
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
