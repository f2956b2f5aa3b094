"""Everything the plugin runs for one host, built and started in one place.

:func:`start_runtime` reads the settings, opens the Salesforce clients, builds the
outbox, lets the Case path and the reply path register their jobs on it, and
starts the workers; :meth:`Runtime.stop` undoes it. Every object is built before
anything refers to it, and every one that reads the time gets the same
:class:`~opencx_salesforce.clock.Clock`. ``plugin.py`` only forwards host events
here.
"""

from __future__ import annotations

import logging
import secrets
from dataclasses import dataclass, field

import aiohttp
import pluggy

from opencx_salesforce.cases.index import CaseIndex
from opencx_salesforce.cases.service import CaseService
from opencx_salesforce.clock import SYSTEM_CLOCK, Clock
from opencx_salesforce.defaults import DefaultHooks, register_defaults, unregister_defaults
from opencx_salesforce.errors import ConfigError
from opencx_salesforce.hookspecs import Host
from opencx_salesforce.live.service import LiveService
from opencx_salesforce.metrics.listener import MetricsListener
from opencx_salesforce.metrics.registry import PluginMetrics
from opencx_salesforce.models import HandoffReason, Message, Session
from opencx_salesforce.outbox.queue import Outbox, OutboxSettings
from opencx_salesforce.replies.digest import DigestInbox
from opencx_salesforce.replies.ledger import ReplyLedger
from opencx_salesforce.replies.service import ReplyService
from opencx_salesforce.replies.status import ReplyStatus
from opencx_salesforce.replies.sweep import Sweeper
from opencx_salesforce.retention.purge import RetentionPass
from opencx_salesforce.retention.runner import RetentionRunner
from opencx_salesforce.retention.status import RetentionStatus
from opencx_salesforce.salesforce.client import SalesforceClient
from opencx_salesforce.salesforce.oauth import OAuthClient
from opencx_salesforce.salesforce.secrets import SecretBox
from opencx_salesforce.salesforce.tokens import ClientCredentials, TokenManager
from opencx_salesforce.settings import SalesforceSettings, load_settings
from opencx_salesforce.store import namespaces
from opencx_salesforce.store.base import Store
from opencx_salesforce.store.epoch import StoreWatch, ensure_epoch
from opencx_salesforce.store.forgetful import warn_if_forgetful
from opencx_salesforce.store.probe import WriteWatch

log = logging.getLogger(__name__)

PLUGIN_NAME = "salesforce"
# Where the host mounts this plugin's routes (DESIGN.md, "The host contract").
ROUTE_PREFIX = "/integrations/salesforce"
OUTBOX_QUEUE = namespaces.OUTBOX
STATE_NS = namespaces.STATE
WEBHOOK_TOKEN_KEY = "webhook_token"
SIGNING_SECRET_KEY = "webhook_signing_secret"


@dataclass
class Runtime:
    host: Host
    settings: SalesforceSettings
    http: aiohttp.ClientSession
    tokens: TokenManager
    oauth: OAuthClient
    client: SalesforceClient
    index: CaseIndex
    cases: CaseService
    outbox: Outbox
    # Secrets: kept out of repr (a failing assertion or a log of the runtime).
    webhook_token: str = field(repr=False)
    replies: ReplyService
    sweeper: Sweeper
    reply_status: ReplyStatus
    clock: Clock
    metrics: PluginMetrics
    # Notices a store wiped under this instance (store/epoch.py); set at start.
    store_watch: StoreWatch | None = None
    # Whether the store takes writes, asked in the background (store/probe.py).
    write_watch: WriteWatch | None = None
    # What webhook calls are signed with (the generated package carries it), or
    # None when the settings opt out (webhook_signing = false).
    signing_secret: str | None = field(default=None, repr=False)
    workers_started: bool = False  # False for tools that only look (doctor)
    metrics_listener: MetricsListener | None = None
    # The live path (live/service.py); None when no Messaging deployment is set.
    live: LiveService | None = None
    # The default Case fields and transcript (defaults.py), registered on ``pm``.
    pm: pluggy.PluginManager | None = None
    defaults: DefaultHooks | None = None
    # Closed Cases' keys removed after retention_days (retention/); None when
    # retention_days is 0.
    retention: RetentionRunner | None = None

    @property
    def redirect_uri(self) -> str:
        """The OAuth callback URL to register on the Connected App."""
        return f"{self.host.public_url}{ROUTE_PREFIX}/oauth/callback"

    @property
    def digests(self) -> DigestInbox:
        """Where the package's digests go (replies/digest.py)."""
        return self.sweeper.digests

    @property
    def webhook_url(self) -> str:
        """The URL the generated Named Credential points at."""
        return f"{self.host.public_url}{ROUTE_PREFIX}/webhook/{self.webhook_token}"

    async def handoff(self, session: Session, reason: HandoffReason) -> None:
        """Persist the handoff; a worker does the Salesforce work (a Case, and a
        live chat when the session's path is live)."""
        if self.live is not None and await self.live.takes(session):
            await self.live.submit_handoff(session, reason)
        else:
            await self.cases.submit_handoff(session, reason)
            await self.replies.activity.note()  # a rep's reply may come soon

    async def reengage(self, session: Session, messages: list[Message]) -> None:
        """Persist the contact's new messages; a worker sends them into the live
        chat, or appends them to the Case."""
        if self.live is not None and await self.live.owns(session.id):
            await self.live.submit_send(session, messages)
        else:
            if self.live is not None:
                await self.live.wrote_to_the_case(session.id)
            await self.cases.submit_append(session, messages)
            await self.replies.activity.note()

    async def contact_left(self, session: Session) -> None:
        """The contact left: a live chat is closed (a Case stays as it is)."""
        if self.live is not None:
            await self.live.leave(session)

    async def restore_after_wipe(self) -> None:
        """The store was wiped and this instance holds the state of before: the
        webhook token deployed in Salesforce goes back (a token made on the empty
        store is known to nobody), and so does the signing secret it carries."""
        await self.host.store.set(STATE_NS, WEBHOOK_TOKEN_KEY, self.webhook_token.encode())
        if self.signing_secret is not None and self.settings.webhook_signing_secret_value() is None:
            await self.host.store.set(STATE_NS, SIGNING_SECRET_KEY, self.signing_secret.encode())

    async def adopt_after_wipe(self) -> None:
        """This instance started on the wiped store, and another restored it:
        serve the restored webhook token and check the restored signing secret."""
        raw = await self.host.store.get(STATE_NS, WEBHOOK_TOKEN_KEY)
        if raw is not None:
            self.webhook_token = raw.decode()
        if self.signing_secret is not None and self.settings.webhook_signing_secret_value() is None:
            secret = await self.host.store.get(STATE_NS, SIGNING_SECRET_KEY)
            if secret is not None:
                self.signing_secret = secret.decode()

    async def stop(self) -> None:
        if self.pm is not None and self.defaults is not None:
            unregister_defaults(self.pm, self.defaults)
        if self.live is not None:
            await self.live.stop()
        if self.store_watch is not None:
            await self.store_watch.stop()
        if self.write_watch is not None:
            await self.write_watch.stop()
        if self.metrics_listener is not None:
            await self.metrics_listener.stop()
        await self.sweeper.stop()
        if self.retention is not None:
            await self.retention.stop()
        await self.outbox.stop()
        # The jobs are gone: their batched requests go with them, before the
        # session they would be sent on closes.
        await self.cases.close()
        await self.http.close()


async def start_runtime(
    host: Host, pm: pluggy.PluginManager, *, workers: bool = True, clock: Clock = SYSTEM_CLOCK
) -> Runtime:
    """Build the plugin's runtime for ``host``. ``workers=False`` leaves the
    outbox workers and the sweep stopped: for tools that only look (``doctor``)
    while the running host does the work."""
    settings = load_settings(host.plugin_config(PLUGIN_NAME))
    box = await SecretBox.from_settings(
        settings.encryption_key.get_secret_value() if settings.encryption_key else None,
        store=host.store,
        dev_mode=settings.dev_mode,
    )
    epoch = await ensure_epoch(host.store)
    webhook_token = await ensure_webhook_token(host.store)
    signing_secret = await ensure_signing_secret(settings, host.store)
    http = aiohttp.ClientSession()
    oauth = OAuthClient(http)
    configured = None
    if settings.client_id and settings.client_secret:
        configured = ClientCredentials(
            settings.login_url, settings.client_id, settings.client_secret.get_secret_value()
        )
    outbox = Outbox(
        host.store,
        queue=OUTBOX_QUEUE,
        settings=OutboxSettings(
            backoff_base=settings.backoff_base_seconds,
            backoff_cap=settings.backoff_cap_seconds,
            dead_letter_after=settings.dead_letter_after_seconds,
            concurrency=settings.outbox_concurrency,
        ),
        clock=clock,
    )
    watches: list[StoreWatch] = []  # the store's watch, made below

    async def connected() -> None:
        # The work that waited for an admin goes now; a wipe is recovered from.
        await outbox.resume_after_reconnect()
        for watch in watches:
            await watch.connected()

    tokens = TokenManager(
        host.store,
        box,
        oauth,
        credentials=configured,
        refresh_after=settings.token_refresh_after_seconds or None,
        on_connected=connected,
    )
    client = SalesforceClient(tokens, api_version=settings.api_version, session=http)
    index = CaseIndex(host.store, clock=clock)
    cases = CaseService(
        host=host,
        client=client,
        settings=settings,
        index=index,
        pm=pm,
        outbox=outbox,
        clock=clock,
    )
    cases.register_jobs()
    reply_status = ReplyStatus()
    replies = ReplyService(
        host=host,
        client=client,
        settings=settings,
        index=index,
        ledger=ReplyLedger(host.store, clock=clock),
        status=reply_status,
        outbox=outbox,
        clock=clock,
    )
    replies.register_jobs()
    sweeper = Sweeper(
        store=host.store,
        client=client,
        settings=settings,
        replies=replies,
        status=reply_status,
        clock=clock,
    )
    retention_status = RetentionStatus()
    retention = None
    if settings.retention_days > 0:
        retention = RetentionRunner(
            store=host.store,
            index=index,
            purge=RetentionPass(
                store=host.store,
                host=host,
                index=index,
                ledger=replies.ledger,
                outbox_queue=OUTBOX_QUEUE,
                retention_seconds=settings.retention_days * 86400.0,
                clock=clock,
            ),
            status=retention_status,
            clock=clock,
        )
    metrics = PluginMetrics(
        client=client,
        tokens=tokens,
        outbox=outbox,
        replies=reply_status,
        retention=retention_status,
        clock=clock,
    )
    listener = None
    if workers and settings.metrics_listen:
        listener = MetricsListener(metrics, settings.metrics_listen)
        try:
            log.info("Salesforce plugin metrics at %s/metrics", await listener.start())
        except OSError as exc:
            await http.close()
            raise ConfigError(f"metrics_listen = {settings.metrics_listen!r}: {exc}") from None
    live = None
    if settings.live.configured:
        live = LiveService(
            host=host,
            pm=pm,
            settings=settings.live,
            http=http,
            outbox=outbox,
            cases=cases,
            index=index,
            clock=clock,
        )
        live.register_jobs()
        metrics.live_chats = live.chats
    runtime = Runtime(
        host=host,
        settings=settings,
        http=http,
        tokens=tokens,
        oauth=oauth,
        client=client,
        index=index,
        cases=cases,
        outbox=outbox,
        webhook_token=webhook_token,
        replies=replies,
        sweeper=sweeper,
        reply_status=reply_status,
        clock=clock,
        signing_secret=signing_secret,
        metrics=metrics,
        workers_started=workers,
        metrics_listener=listener,
        live=live,
        pm=pm,
        defaults=register_defaults(pm, settings),
        retention=retention,
    )
    runtime.store_watch = StoreWatch(
        host.store, epoch, restore=runtime.restore_after_wipe, adopt=runtime.adopt_after_wipe
    )
    watches.append(runtime.store_watch)
    runtime.write_watch = metrics.write_watch = WriteWatch(host.store, STATE_NS)
    if workers:
        await warn_if_forgetful(host.store)
        outbox.start()
        sweeper.start()
        if retention is not None:
            retention.start()
        runtime.store_watch.start()
        runtime.write_watch.start()
        if live is not None:
            live.start()
    return runtime


async def ensure_signing_secret(settings: SalesforceSettings, store: Store) -> str | None:
    """The secret webhook calls are signed with: ``webhook_signing_secret`` when
    set, else one made once per install and shared by every host instance on the
    store (like the webhook token); None when ``webhook_signing`` is off."""
    if not settings.webhook_signing:
        return None
    configured = settings.webhook_signing_secret_value()
    if configured is not None:
        return configured
    # 43 url-safe characters: printable ASCII, as the package's secret field takes.
    await store.set_if_absent(STATE_NS, SIGNING_SECRET_KEY, secrets.token_urlsafe(32).encode())
    raw = await store.get(STATE_NS, SIGNING_SECRET_KEY)
    assert raw is not None
    return str(raw.decode())


async def ensure_webhook_token(store: Store) -> str:
    """The per-install secret path segment of the webhook URL: made once, shared
    by every host instance on the store (set-if-absent decides the race)."""
    await store.set_if_absent(STATE_NS, WEBHOOK_TOKEN_KEY, secrets.token_urlsafe(32).encode())
    raw = await store.get(STATE_NS, WEBHOOK_TOKEN_KEY)
    assert raw is not None
    return str(raw.decode())
