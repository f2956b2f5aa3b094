"""Everything the plugin runs for one host, built in one place.

:func:`start_services` reads the settings, opens the Salesforce clients, and starts
the workers; :meth:`Services.stop` undoes it. ``plugin.py`` only forwards host
events here.
"""

from __future__ import annotations

import json
import logging
import secrets
from dataclasses import dataclass
from typing import Any

import aiohttp
import pluggy

from opencx_salesforce.cases.index import CaseIndex
from opencx_salesforce.cases.service import CaseService
from opencx_salesforce.config import SalesforceSettings, load_settings
from opencx_salesforce.hookspecs import Host
from opencx_salesforce.models import HandoffReason, Message, Session
from opencx_salesforce.outbox.queue import Outbox, OutboxSettings
from opencx_salesforce.replies.ledger import ReplyLedger
from opencx_salesforce.replies.service import NOTIFY_KIND, ReplyService
from opencx_salesforce.replies.status import ReplyStatus
from opencx_salesforce.replies.sweep import Sweeper
from opencx_salesforce.salesforce.client import SalesforceClient
from opencx_salesforce.salesforce.errors import NeedsReauthorization, SalesforceError
from opencx_salesforce.salesforce.oauth import OAuthClient
from opencx_salesforce.salesforce.secrets import SecretBox
from opencx_salesforce.salesforce.tokens import ClientCredentials, TokenManager
from opencx_salesforce.store.base import ItemState

log = logging.getLogger(__name__)

PLUGIN_NAME = "salesforce"
# Where the host mounts this plugin's routes (DESIGN.md, "The host contract").
ROUTE_PREFIX = "/integrations/salesforce"
OUTBOX_QUEUE = "salesforce.outbox"
STATE_NS = "salesforce.state"
# Waiting for an admin to reconnect is not a failure of the job: look again
# every few minutes, for as long as the dead-letter age allows.
REAUTH_WAIT = 120.0


def retry_hint(exc: BaseException) -> tuple[bool, float | None]:
    """The outbox's question: can this succeed later without anyone changing
    anything, and after how long at least?"""
    if isinstance(exc, NeedsReauthorization):
        return True, REAUTH_WAIT
    if isinstance(exc, SalesforceError):
        return exc.is_retryable, exc.retry_after
    if isinstance(exc, RuntimeError | TimeoutError | aiohttp.ClientError | OSError):
        return True, None
    return False, None


@dataclass
class Services:
    host: Host
    settings: SalesforceSettings
    http: aiohttp.ClientSession
    tokens: TokenManager
    oauth: OAuthClient
    client: SalesforceClient
    index: CaseIndex
    cases: CaseService
    outbox: Outbox
    webhook_token: str
    replies: ReplyService
    sweeper: Sweeper
    reply_status: ReplyStatus

    @property
    def redirect_uri(self) -> str:
        """The OAuth callback URL to register on the Connected App."""
        return f"{self.host.public_url}{ROUTE_PREFIX}/oauth/callback"

    @property
    def webhook_url(self) -> str:
        """The URL the generated Named Credential points at."""
        return f"{self.host.public_url}{ROUTE_PREFIX}/webhook/{self.webhook_token}"

    async def handoff(self, session: Session, reason: HandoffReason) -> None:
        """Persist the handoff; a worker does the Salesforce work."""
        # The job first: a crash right after it leaves work queued, never a
        # "pending" mark with nothing behind it. The mark only tells appends
        # that arrive before the Case to wait for it.
        await self.outbox.submit(
            "handoff",
            f"handoff:{session.id}",
            {"session": session.model_dump(mode="json"), "reason": reason.model_dump()},
        )
        await self.index.mark_pending(session.id)

    async def reengage(self, session: Session, messages: list[Message]) -> None:
        if not messages:
            return
        item_id = f"append:{session.id}:{messages[0].id}"
        await self.outbox.submit(
            "append",
            item_id,
            {
                "session_id": session.id,
                "messages": [m.model_dump(mode="json") for m in messages],
                # The order the contact wrote in, which the appends keep.
                "seq": await self.index.append_seq(session.id, item_id),
            },
        )

    async def stop(self) -> None:
        await self.sweeper.stop()
        await self.outbox.stop()
        await self.http.close()


async def start_services(host: Host, pm: pluggy.PluginManager, *, workers: bool = True) -> Services:
    """Build the plugin's services for ``host``. ``workers=False`` leaves the
    outbox workers and the sweep stopped: for tools that only look (``doctor``)
    while the running host does the work."""
    settings = load_settings(host.plugin_config(PLUGIN_NAME))
    box = await SecretBox.from_settings(
        settings.encryption_key.get_secret_value() if settings.encryption_key else None,
        store=host.store,
        dev_mode=settings.dev_mode,
    )
    http = aiohttp.ClientSession()
    oauth = OAuthClient(http)
    configured = None
    if settings.client_id and settings.client_secret:
        configured = ClientCredentials(
            settings.login_url, settings.client_id, settings.client_secret.get_secret_value()
        )
    tokens = TokenManager(
        host.store,
        box,
        oauth,
        credentials=configured,
        refresh_after=settings.token_refresh_after_seconds or None,
    )
    client = SalesforceClient(tokens, api_version=settings.api_version, session=http)
    index = CaseIndex(host.store)

    async def queued_appends(session_id: str) -> list[int]:
        # Read only when an append finds itself ahead of an earlier one: rare.
        # (``outbox`` is bound below, before any job can run.)
        prefix = f"append:{session_id}:"
        seqs = []
        for item in await outbox.items():
            if item.item_id.startswith(prefix) and item.state is not ItemState.DEAD:
                seq = json.loads(item.payload)["payload"].get("seq")
                if isinstance(seq, int):
                    seqs.append(seq)
        return seqs

    cases = CaseService(
        host=host,
        client=client,
        settings=settings,
        index=index,
        pm=pm,
        queued_appends=queued_appends,
    )

    async def handoff_job(job: Any) -> None:
        await cases.handle_handoff(job)

    async def append_job(job: Any) -> None:
        await cases.handle_append(job)

    async def notify_job(job: Any) -> None:
        await replies.handle_notify(job)

    outbox = Outbox(
        host.store,
        queue=OUTBOX_QUEUE,
        handlers={"handoff": handoff_job, "append": append_job, NOTIFY_KIND: notify_job},
        retry_hint=retry_hint,
        settings=OutboxSettings(
            backoff_base=settings.backoff_base_seconds,
            backoff_cap=settings.backoff_cap_seconds,
            dead_letter_after=settings.dead_letter_after_seconds,
            concurrency=settings.outbox_concurrency,
        ),
    )
    reply_status = ReplyStatus()
    replies = ReplyService(
        host=host,
        client=client,
        settings=settings,
        index=index,
        ledger=ReplyLedger(host.store),
        status=reply_status,
        outbox=outbox,
    )
    sweeper = Sweeper(
        store=host.store, client=client, settings=settings, replies=replies, status=reply_status
    )
    if workers:
        outbox.start()
        sweeper.start()
    webhook_token = await ensure_webhook_token(host.store)
    return Services(
        host,
        settings,
        http,
        tokens,
        oauth,
        client,
        index,
        cases,
        outbox,
        webhook_token,
        replies=replies,
        sweeper=sweeper,
        reply_status=reply_status,
    )


async def ensure_webhook_token(store: Any) -> str:
    """The per-install secret path segment of the webhook URL: made once, shared
    by every host instance on the store (set-if-absent decides the race)."""
    await store.set_if_absent(STATE_NS, "webhook_token", secrets.token_urlsafe(32).encode())
    raw = await store.get(STATE_NS, "webhook_token")
    assert raw is not None
    return str(raw.decode())
