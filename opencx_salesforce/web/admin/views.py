"""Rendering the settings page and its small companions (the OAuth callback
page, error pages): a jinja2 environment with autoescape on, and the view models
the templates read.

The view models are built from the running services and hold nothing secret:
the Client Secret is reduced to a masked hint before it gets here, and tokens
never do (``ConnectionStatus`` does not carry them).
"""

from __future__ import annotations

import datetime
import re
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import jinja2
import markupsafe
from aiohttp import web

from opencx_salesforce.apex import names
from opencx_salesforce.outbox.policy import OutageGate
from opencx_salesforce.outbox.queue import Outbox, job_kind
from opencx_salesforce.salesforce.tokens import ConnectionState, ConnectionStatus
from opencx_salesforce.store.base import ItemState, QueueItem
from opencx_salesforce.web.admin.messages import PRODUCTION_LOGIN, SANDBOX_LOGIN, Message

TEMPLATES_DIR = Path(__file__).parent / "templates"
STATIC_DIR = Path(__file__).parent / "static"

# Every page: no inline script or style (so injected markup could not run), no
# framing (clickjacking the Disconnect button), no Referer carrying the OAuth code.
SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "
        "connect-src 'self'; base-uri 'none'; frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}

LOGIN_CHOICES = (
    ("production", "Production or Developer Edition", PRODUCTION_LOGIN),
    ("sandbox", "Sandbox", SANDBOX_LOGIN),
)


@cache
def environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES_DIR),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["when"] = format_time
    env.filters["code_spans"] = code_spans
    return env


_CODE_SPAN = re.compile(r"`([^`]+)`")


def code_spans(text: str) -> markupsafe.Markup:
    """``text`` escaped, with its `backquoted` commands and names set as code:
    the doctor's fixes are written for a terminal, in Markdown's one mark."""
    escaped = str(markupsafe.escape(text))
    return markupsafe.Markup(_CODE_SPAN.sub(r"<code>\1</code>", escaped))


def format_time(value: float | None) -> str:
    if value is None:
        return ""
    moment = datetime.datetime.fromtimestamp(value, tz=datetime.UTC)
    return moment.strftime("%Y-%m-%d %H:%M UTC")


def digest_line(last_at: float | None, now: float, overdue: float) -> str:
    """The settings page's word on the package's digest: when the last one came,
    and whether it is late (the doctor's digest check says what to do)."""
    if last_at is None:
        return (
            "none yet: the first comes a minute after the digest is started"
            " (the package's README, “Start the digest”)"
        )
    line = format_time(last_at)
    age = max(0.0, now - last_at)
    if age >= overdue:
        line += (
            f" · late: it comes every minute, none for {age / 60:.0f} min (Check setup says why)"
        )
    return line


def render(template: str, *, status: int = 200, **context: Any) -> web.Response:
    text = environment().get_template(template).render(**context)
    return web.Response(
        text=text, status=status, content_type="text/html", headers=SECURITY_HEADERS
    )


# --- view models ------------------------------------------------------------------


@dataclass(frozen=True)
class LoginChoice:
    """The Login URL field: one of the two well-known URLs, or a custom one."""

    choice: str  # "production", "sandbox" or "custom"
    custom_url: str

    @classmethod
    def for_url(cls, login_url: str | None) -> LoginChoice:
        if not login_url:
            return cls("production", "")
        for choice, _, url in LOGIN_CHOICES:
            if login_url == url:
                return cls(choice, "")
        return cls("custom", login_url)


@dataclass(frozen=True)
class CredentialsForm:
    """What the credentials fields show. Never the secret itself."""

    client_id: str
    login: LoginChoice
    secret_hint: str | None  # that a secret is saved (none of its characters), or None
    from_config: bool  # the values come from the settings file / environment


@dataclass(frozen=True)
class StatusLine:
    state: str
    text: str
    reason: str | None = None

    @classmethod
    def of(cls, status: ConnectionStatus) -> StatusLine:
        if status.state is ConnectionState.NOT_CONFIGURED:
            return cls(status.state, "Not configured")
        if status.state is ConnectionState.CREDENTIALS_SAVED:
            return cls(status.state, "Credentials saved, not connected yet")
        if status.state is ConnectionState.CONNECTED:
            return cls(status.state, f"Connected as {who(status)} to {where(status)}")
        return cls(status.state, "Needs re-authorization", status.reason or "")


def who(status: ConnectionStatus) -> str:
    if status.display_name and status.username:
        return f"{status.display_name} ({status.username})"
    return status.username or status.display_name or status.user_id or "an unknown user"


def where(status: ConnectionStatus) -> str:
    org = f"org {status.org_id}" if status.org_id else "the org"
    return f"{org} ({status.instance_url})" if status.instance_url else org


@dataclass(frozen=True)
class OutboxRow:
    item_id: str
    kind: str
    attempts: int
    enqueued_at: float
    available_at: float
    last_error: str | None


@dataclass(frozen=True)
class OutageHold:
    """Salesforce announced an outage (503 with Retry-After) and this instance
    holds its work: nothing is leased, no attempt counted, one probe request at
    a time (:class:`~opencx_salesforce.outbox.policy.OutageGate`)."""

    until: float  # when the longest announced wait ends
    next_probe_at: float
    probes: int  # probe requests sent since this instance started

    @classmethod
    def of(cls, gate: OutageGate, now: float) -> OutageHold | None:
        until, probe_at = gate.closed_until, gate.next_probe_at
        if until is None or probe_at is None or not gate.holding(now):
            return None
        return cls(until=until, next_probe_at=probe_at, probes=gate.probes)


@dataclass(frozen=True)
class OutboxView:
    pending: list[OutboxRow] = field(default_factory=list)
    dead: list[OutboxRow] = field(default_factory=list)
    outage: OutageHold | None = None

    @classmethod
    def of(cls, items: list[QueueItem], outage: OutageHold | None = None) -> OutboxView:
        pending = [_row(i) for i in items if i.state is not ItemState.DEAD]
        dead = [_row(i) for i in items if i.state is ItemState.DEAD]
        return cls(pending, dead, outage)

    @classmethod
    async def read(cls, outbox: Outbox, now: float) -> OutboxView:
        """The outbox as the page and status.json show it."""
        return cls.of(await outbox.items(), OutageHold.of(outbox.gate, now))


def _row(item: QueueItem) -> OutboxRow:
    return OutboxRow(
        item_id=item.item_id,
        kind=job_kind(item),
        attempts=item.attempts,
        enqueued_at=item.enqueued_at,
        available_at=item.available_at,
        last_error=item.last_error,
    )


@dataclass(frozen=True)
class Urls:
    """The page's links and form targets (the host decides the prefix)."""

    admin: str
    credentials: str
    connect: str
    disconnect: str
    status_json: str
    package: str
    retry: str
    check: str
    static: str


@dataclass(frozen=True)
class SalesforceCleanup:
    """What to delete in Salesforce after disconnecting, from the package's names:
    what its ``disconnect/destructiveChanges.xml`` removes (a package made with
    ``--legacy-named-credential`` has no External Credential and no callout
    permission set; deleting what is not there is a no-op)."""

    named_credential: str = names.NAMED_CREDENTIAL
    external_credential: str = names.EXTERNAL_CREDENTIAL
    callout_class: str = names.CALLOUT_CLASS
    apex_classes: tuple[str, ...] = (
        names.CALLOUT_CLASS,
        names.TEST_CLASS,
        names.DIGEST_CLASS,
        names.DIGEST_TEST_CLASS,
    )
    triggers: tuple[str, ...] = tuple(names.TRIGGERS)
    settings_type: str = names.SETTINGS_TYPE
    permission_set: str = names.PERMISSION_SET
    callout_permission_set: str = names.CALLOUT_PERMISSION_SET
    # Run first: a digest left scheduled calls classes that are being deleted.
    stop_digest: str = names.STOP_DIGEST_SCRIPT

    @property
    def permission_sets(self) -> tuple[str, ...]:
        return (self.permission_set, self.callout_permission_set)

    # Kept on purpose: the Cases the plugin created keep their data.
    case_fields: tuple[str, ...] = (names.CASE_FROM_FIELD, names.DEFAULT_SESSION_ID_FIELD)


@dataclass(frozen=True)
class SettingsPage:
    urls: Urls
    csrf_token: str
    status: StatusLine
    connected: bool  # connected, or connected once and needing re-authorization
    can_connect: bool  # credentials are saved or configured
    form: CredentialsForm
    redirect_uri: str
    webhook_url: str | None
    outbox: OutboxView
    cleanup: SalesforceCleanup
    show_cleanup: bool
    messages: list[Message]
    signed_package: bool
    # Stored secrets the configured encryption key cannot decrypt (the key changed).
    secrets_unreadable: bool = False
    login_choices: tuple[tuple[str, str, str], ...] = LOGIN_CHOICES
