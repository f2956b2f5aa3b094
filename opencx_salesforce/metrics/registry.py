"""One plugin's metrics: its registry, the reply latency histogram, and the
store figures read before each scrape."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import replace

from aiohttp import web
from prometheus_client import CollectorRegistry, Histogram
from prometheus_client.aiohttp import make_aiohttp_handler

from opencx_salesforce.clock import Clock
from opencx_salesforce.live.records import STATES as LIVE_STATES
from opencx_salesforce.live.records import LiveChats
from opencx_salesforce.log_throttle import LogThrottle, also
from opencx_salesforce.metrics.collector import PREFIX, PluginCollector, StoreFigures
from opencx_salesforce.outbox.queue import Outbox, due_for
from opencx_salesforce.replies.status import ReplyStatus
from opencx_salesforce.retention.status import RetentionStatus
from opencx_salesforce.salesforce.client import SalesforceClient
from opencx_salesforce.salesforce.tokens import TokenManager
from opencx_salesforce.store.base import ItemState
from opencx_salesforce.store.failures import cause_of
from opencx_salesforce.store.probe import WriteWatch

log = logging.getLogger(__name__)

# outbox_depth's state for a ready item not due yet (not a store state).
SCHEDULED = "scheduled"

# Seconds a scrape waits for the store (as readiness does).
STORE_ANSWER_SECONDS = 5.0

# From the rep writing to the contact's host having it: seconds, from "the
# webhook rang at once" to "the sweep found it minutes later".
LATENCY_BUCKETS = (0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 900.0, 3600.0)


class PluginMetrics:
    def __init__(
        self,
        *,
        client: SalesforceClient,
        tokens: TokenManager,
        outbox: Outbox,
        replies: ReplyStatus,
        clock: Clock,
        retention: RetentionStatus | None = None,
    ) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        # Whether the store takes writes (store/probe.py); set by the runtime.
        self.write_watch: WriteWatch | None = None
        # The live chats (live/records.py); set by the runtime with [salesforce.live].
        self.live_chats: LiveChats | None = None
        self._outbox = outbox
        self._tokens = tokens
        self._store_trouble = LogThrottle()  # a line in a while, not one a scrape
        self._clock = clock
        self._collector = PluginCollector(
            client=client,
            tokens=tokens,
            outbox=outbox.stats,
            replies=replies,
            retention=retention or RetentionStatus(),
        )
        self.registry.register(self._collector)
        self.reply_latency = Histogram(
            f"{PREFIX}_reply_delivery_latency_seconds",
            "From a rep's reply being written in Salesforce to the host accepting it.",
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        replies.latency_listeners.append(self.reply_latency.observe)
        self._expose = make_aiohttp_handler(self.registry)

    async def read_store(self) -> None:
        """Count the outbox's items by state, how long the oldest due one has
        waited for a worker, and the connection's state. A store that fails or
        does not answer within STORE_ANSWER_SECONDS leaves the last figures, and
        ``store_up`` 0: the scrape still answers (it was a 500, and every series
        vanished with it, the alerts on them silent rather than firing)."""
        try:
            async with asyncio.timeout(STORE_ANSWER_SECONDS):
                items = await self._outbox.items()
                status = await self._tokens.status()
                live = await self._live_figures()
        except Exception as exc:
            report = self._store_trouble.due()
            if report is not None:
                log.warning("metrics: the store did not answer: %s%s", cause_of(exc), also(report))
            self._collector.store = replace(
                self._collector.store, up=False, writable=self._writable()
            )
            return
        now = self._clock.time()
        depth = {state.value: 0 for state in ItemState} | {SCHEDULED: 0}
        for item in items:
            # Ready but not due yet: a timer (a live chat's queue timeout), a
            # retry's backoff. Counted apart, so "ready" can go back to 0.
            later = item.state is ItemState.READY and item.available_at > now
            depth[SCHEDULED if later else item.state.value] += 1
        waited = due_for(items, now)
        self._collector.store = StoreFigures(
            depth=depth,
            oldest_age=max(waited, default=0.0),
            connection=status.state.value,
            writable=self._writable(),
            live_chats=live[0] if live is not None else None,
            live_endings_failing=live[1] if live is not None else 0,
        )

    async def _live_figures(self) -> tuple[dict[str, int], int] | None:
        """Live chats by state, and how many endings are failing (as the
        settings page's card)."""
        if self.live_chats is None:
            return None
        states = dict.fromkeys(LIVE_STATES, 0)
        failing = 0
        for chat in await self.live_chats.all():
            states[chat.state] = states.get(chat.state, 0) + 1
            failing += bool(chat.ending and chat.end_failures)
        return states, failing

    def _writable(self) -> bool | None:
        watch = self.write_watch
        if watch is None or watch.checked_at is None:
            return None
        return watch.refused is None

    async def respond(self, request: web.Request) -> web.StreamResponse:
        """The scrape: store figures first, then the text (or OpenMetrics, as the
        scraper's Accept header asks) of this plugin's registry."""
        await self.read_store()
        return await self._expose(request)
