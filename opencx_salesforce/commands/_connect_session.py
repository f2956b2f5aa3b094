"""The state one run of ``opencx-salesforce connect`` works on: the plugin's token
manager on the host's store (built as the running plugin builds it), the
:class:`ConnectContext` passed to every step, and how a connection status and an
admin message read as terminal lines. Shared by :mod:`.connect` (status,
disconnect, client credentials) and :mod:`._connect_browser` (the browser sign-in).
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, TextIO

if TYPE_CHECKING:
    from opencx_salesforce.devhost.config import HostSettings
    from opencx_salesforce.salesforce.oauth import OAuthClient
    from opencx_salesforce.salesforce.tokens import ConnectionStatus, TokenManager
    from opencx_salesforce.settings import SalesforceSettings
    from opencx_salesforce.store.base import Store
    from opencx_salesforce.web.admin.messages import Message


@dataclass
class ConnectContext:
    tokens: TokenManager
    oauth: OAuthClient
    store: Store
    settings: SalesforceSettings
    redirect_uri: str
    out: TextIO
    stdin: TextIO

    def say(self, text: str = "") -> None:
        print(text, file=self.out, flush=True)


@contextlib.asynccontextmanager
async def plugin_state(
    host_settings: HostSettings, settings: SalesforceSettings
) -> AsyncIterator[tuple[TokenManager, OAuthClient, Store]]:
    """The plugin's token manager on the host's store, as the running plugin builds it."""
    import aiohttp

    from opencx_salesforce.errors import ConfigError
    from opencx_salesforce.outbox.queue import resume_waiting_for_admin
    from opencx_salesforce.salesforce.oauth import OAuthClient
    from opencx_salesforce.salesforce.secrets import SecretBox
    from opencx_salesforce.salesforce.tokens import ClientCredentials, TokenManager
    from opencx_salesforce.store import namespaces, open_store

    if host_settings.store_url.split(":", 1)[0].lower() == "memory":
        raise ConfigError(
            "host.store_url: memory:// keeps nothing after this command exits; connect "
            "with the store the host uses (sqlite:///PATH or redis://...)"
        )
    store = await open_store(host_settings.store_url)
    try:
        box = await SecretBox.from_settings(
            settings.encryption_key_value(), store=store, dev_mode=settings.dev_mode
        )
        configured = None
        secret = settings.client_secret_value()
        if settings.client_id and secret:
            configured = ClientCredentials(settings.login_url, settings.client_id, secret)
        async with aiohttp.ClientSession() as http:
            oauth = OAuthClient(http)
            # A running host's waiting work resumes as soon as this connects.
            resume = functools.partial(resume_waiting_for_admin, store, namespaces.OUTBOX)
            tokens = TokenManager(store, box, oauth, credentials=configured, on_connected=resume)
            yield tokens, oauth, store
    finally:
        await store.close()


def status_lines(status: ConnectionStatus, redirect_uri: str | None = None) -> list[str]:
    from opencx_salesforce.web.admin.views import StatusLine

    line = StatusLine.of(status)
    lines = [f"Salesforce: {line.text}" + (f": {line.reason}" if line.reason else "")]
    if status.login_url:
        lines.append(f"  login URL:    {status.login_url}")
    if status.client_id:
        lines.append(f"  client ID:    {status.client_id}")
    if redirect_uri:
        lines.append(f"  redirect URI: {redirect_uri}")
    return lines


async def say_connected(ctx: ConnectContext, status: ConnectionStatus) -> int:
    for line in [*status_lines(status), *await renewal_note(ctx)]:
        ctx.say(line)
    return 0


async def renewal_note(ctx: ConnectContext) -> list[str]:
    """When the Client ID and Secret came from this command's settings only: the
    host renews the grant with them, so it needs them too. (A host without them
    lost the connection at its first renewal, and doctor said no credentials.)"""
    if await ctx.tokens.credentials_saved():
        return []
    return [
        "Note: the Client ID and Client Secret came from this command's config file or "
        "OPENCX_SALESFORCE_* variables and are not saved in the store. The host renews "
        "the grant with them: give it the same settings, or save them on the settings page."
    ]


def explain(ctx: ConnectContext, message: Message) -> int:
    for line in message_lines(message):
        ctx.say(line)
    return 1


def message_lines(message: Message) -> list[str]:
    lines = [f"{message.symptom}: {message.title}." if message.symptom else message.title]
    lines.append(message.text)
    if message.detail:
        lines.append(f"(details: {message.detail})")
    return lines
