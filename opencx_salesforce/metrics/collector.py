"""Read the plugin's own counters at scrape time.

The services already count what they do (the REST client's calls and errors,
the outbox's job outcomes, the token manager's refreshes, the reply path's
:class:`~opencx_salesforce.replies.status.ReplyStatus`); this collector turns
those numbers into Prometheus families when scraped, so instrumenting a service
is one line beside what it already does, and nothing here runs on a hot path.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric

from opencx_salesforce.outbox.queue import OutboxStats
from opencx_salesforce.replies.status import ReplyStatus
from opencx_salesforce.retention.status import RetentionStatus
from opencx_salesforce.salesforce.client import SalesforceClient
from opencx_salesforce.salesforce.connection import ConnectionState
from opencx_salesforce.salesforce.tokens import TokenManager

PREFIX = "opencx_salesforce"
HANDOFF_KIND = "handoff"  # the Case service's job kind for a new handoff


@dataclass
class StoreFigures:
    """What only the store knows, read just before each scrape."""

    depth: dict[str, int]  # items by state (ready: due now, scheduled, leased, dead)
    oldest_age: float  # seconds the longest-due ready item has waited; 0 if none
    up: bool = True  # the store answered the reads before this scrape
    connection: str | None = None  # the connection's state (ConnectionState), if read
    # The store took the last write asked of it (store/probe.py WriteWatch);
    # None: not asked yet.
    writable: bool | None = None
    # Live chats in the store by state, and those whose ending keeps failing
    # (live/end_retry.py); None without [salesforce.live].
    live_chats: dict[str, int] | None = None
    live_endings_failing: int = 0


class PluginCollector:
    """A ``prometheus_client`` collector over the running services."""

    def __init__(
        self,
        *,
        client: SalesforceClient,
        tokens: TokenManager,
        outbox: OutboxStats,
        replies: ReplyStatus,
        retention: RetentionStatus,
    ) -> None:
        self._client = client
        self._retention = retention
        self._tokens = tokens
        self._outbox = outbox
        self._replies = replies
        self.store = StoreFigures(depth={}, oldest_age=0.0)

    def collect(self) -> Iterable[Metric]:
        yield GaugeMetricFamily(
            f"{PREFIX}_store_up",
            "1 when the store answered the reads before this scrape, 0 when it did not "
            "(the outbox figures are then the last ones read).",
            value=1 if self.store.up else 0,
        )
        if self.store.writable is not None:
            yield GaugeMetricFamily(
                f"{PREFIX}_store_writable",
                "1 when the store took the last write asked of it (every 30 s, and at "
                "each readiness probe), 0 when it refused: a full disk, a read-only "
                "PostgreSQL, a Redis that cannot persist.",
                value=1 if self.store.writable else 0,
            )
        if self.store.connection is not None:
            connection = GaugeMetricFamily(
                f"{PREFIX}_connection",
                "The Salesforce connection's state: 1 for the current one "
                "(needs_reauthorization: an admin must click Connect).",
                labels=["state"],
            )
            for state in ConnectionState:
                connection.add_metric(
                    [state.value], 1 if state.value == self.store.connection else 0
                )
            yield connection
        yield from self._salesforce()
        yield from self._outbox_families()
        yield from self._reply_families()
        yield from self._live_families()

    def _salesforce(self) -> Iterable[Metric]:
        calls = CounterMetricFamily(
            f"{PREFIX}_salesforce_api_calls",
            "REST calls made to the org, by resource kind (each spends daily quota).",
            labels=["kind"],
        )
        for kind, count in sorted(self._client.calls_by_kind.items()):
            calls.add_metric([kind], count)
        yield calls
        errors = CounterMetricFamily(
            f"{PREFIX}_salesforce_errors",
            "Error answers from Salesforce, by its errorCode (HTTP_<status> when none).",
            labels=["code"],
        )
        for code, count in sorted(self._client.errors_by_code.items()):
            errors.add_metric([code], count)
        yield errors
        yield CounterMetricFamily(
            f"{PREFIX}_token_refreshes",
            "Access token refreshes this instance asked Salesforce for.",
            value=self._tokens.refreshes,
        )
        usage = self._client.usage
        if usage is not None:  # only once Salesforce has reported it (Sforce-Limit-Info)
            yield GaugeMetricFamily(
                f"{PREFIX}_org_api_usage_calls",
                "API calls the org made in the last 24 hours, as Sforce-Limit-Info reported.",
                value=usage.used,
            )
            yield GaugeMetricFamily(
                f"{PREFIX}_org_api_usage_limit",
                "The org's daily API call limit, as Sforce-Limit-Info reported.",
                value=usage.limit,
            )

    def _outbox_families(self) -> Iterable[Metric]:
        handoffs = CounterMetricFamily(
            f"{PREFIX}_handoffs",
            "Handoffs by outcome: submitted (stored), done (Case written), retried, "
            "waiting (behind another job), dead (dead letter).",
            labels=["outcome"],
        )
        jobs = CounterMetricFamily(
            f"{PREFIX}_outbox_jobs",
            "Outbox jobs by kind and outcome (the outcomes of handoffs, for every kind).",
            labels=["kind", "outcome"],
        )
        for (kind, outcome), count in sorted(self._outbox.outcomes.items()):
            jobs.add_metric([kind, outcome], count)
            if kind == HANDOFF_KIND:
                handoffs.add_metric([outcome], count)
        yield handoffs
        yield jobs
        depth = GaugeMetricFamily(
            f"{PREFIX}_outbox_depth",
            "Outbox items by state: ready (due, waiting for a worker), scheduled "
            "(due later: a timer, a retry's backoff), leased (being worked), dead.",
            labels=["state"],
        )
        for state, count in sorted(self.store.depth.items()):
            depth.add_metric([state], count)
        yield depth
        yield GaugeMetricFamily(
            f"{PREFIX}_outbox_oldest_age_seconds",
            "Seconds the longest-due outbox item has waited for a worker (0 when none "
            "is due; scheduled and leased items are not waiting).",
            value=self.store.oldest_age,
        )
        yield GaugeMetricFamily(
            f"{PREFIX}_dead_letters",
            "Outbox items dead-lettered and waiting for an admin.",
            value=self.store.depth.get("dead", 0),
        )

    def _reply_families(self) -> Iterable[Metric]:
        status = self._replies
        webhooks = CounterMetricFamily(
            f"{PREFIX}_webhook_calls",
            "Webhook calls by result: accepted, or refused with its HTTP status and reason.",
            labels=["result", "status", "reason"],
        )
        webhooks.add_metric(["accepted", "202", ""], status.webhooks_accepted)
        for key, count in sorted(status.webhooks_refused.items()):
            code, _, reason = key.partition(" ")
            webhooks.add_metric(["refused", code, reason], count)
        yield webhooks
        delivered = CounterMetricFamily(
            f"{PREFIX}_replies_delivered",
            "Rep replies delivered to the host, by what found them (webhook or sweep).",
            labels=["via"],
        )
        delivered.add_metric(["webhook"], status.deliveries - status.delivered_by_sweep)
        delivered.add_metric(["sweep"], status.delivered_by_sweep)
        yield delivered
        sweeps = CounterMetricFamily(
            f"{PREFIX}_sweeps",
            "Reconciliation sweeps: done here, skipped (another instance held the lock "
            "or took the turn), or failed (Salesforce or the store out of reach, say).",
            labels=["result"],
        )
        sweeps.add_metric(["done"], status.sweeps)
        sweeps.add_metric(["skipped"], status.sweeps_skipped)
        sweeps.add_metric(["failed"], status.sweeps_failed)
        yield sweeps
        last = status.last_sweep
        yield GaugeMetricFamily(
            f"{PREFIX}_sweep_last_api_calls",
            "Salesforce calls the last sweep spent.",
            value=last.api_calls if last else 0,
        )
        yield GaugeMetricFamily(
            f"{PREFIX}_sweep_lag_seconds",
            "How far behind Salesforce the sweep's cursor was after the last sweep.",
            value=last.lag_seconds if last else 0,
        )
        yield CounterMetricFamily(
            f"{PREFIX}_reply_api_calls",
            "Salesforce calls made by the reply path (notify jobs and sweeps).",
            value=status.api_calls,
        )
        yield from self._retention_families()

    def _live_families(self) -> Iterable[Metric]:
        if self.store.live_chats is None:
            return
        chats = GaugeMetricFamily(
            f"{PREFIX}_live_chats",
            "Live chats kept in the store, by state (starting, waiting, active, ended, "
            "fallback; ended ones are kept a day).",
            labels=["state"],
        )
        for state, count in sorted(self.store.live_chats.items()):
            chats.add_metric([state], count)
        yield chats
        yield GaugeMetricFamily(
            f"{PREFIX}_live_endings_failing",
            "Live chats whose ending (the rep's end, the contact leaving, the fallback) "
            "failed and waits to be tried again: the contact's unread words and the "
            "session's resolution wait with it.",
            value=self.store.live_endings_failing,
        )

    def _retention_families(self) -> Iterable[Metric]:
        retention = self._retention
        passes = CounterMetricFamily(
            f"{PREFIX}_retention_passes",
            "Retention passes: done here, skipped (another instance held the lock or "
            "took the turn), or failed (the store out of reach, say).",
            labels=["result"],
        )
        passes.add_metric(["done"], retention.passes)
        passes.add_metric(["skipped"], retention.passes_skipped)
        passes.add_metric(["failed"], retention.passes_failed)
        yield passes
        yield CounterMetricFamily(
            f"{PREFIX}_retention_cases_purged",
            "Closed Cases whose keys this instance removed after retention_days.",
            value=retention.cases_purged,
        )
        yield CounterMetricFamily(
            f"{PREFIX}_retention_keys_removed",
            "Store keys this instance's retention passes removed.",
            value=retention.keys_removed,
        )
