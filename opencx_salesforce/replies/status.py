"""What the reply path has been doing, for the settings page and metrics.

Counters live in this process (each host instance reports its own); the
durable facts (cursors, what was delivered) live in the store.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass
class SweepReport:
    """One reconciliation sweep."""

    started_at: float
    finished_at: float
    api_calls: int  # Salesforce calls this sweep spent
    records_seen: int  # rows read: changed Cases, comments, emails and their children
    cases_checked: int  # Cases read in full because something on them changed
    delivered: int  # replies whose webhook was lost, delivered by the sweep
    resolved: int  # sessions resolved because their Case closed unnoticed
    caught_up: bool  # False: the call budget ran out; the next sweep goes on
    lag_seconds: float  # how far behind Salesforce the sweep cursor still is
    moved: int = 0  # sessions moved because their Case was merged unnoticed
    idle: bool = False  # no open Case known to the plugin: nothing read, no call


@dataclass
class ReplyStatus:
    # --- the webhook ---------------------------------------------------------------
    last_webhook_at: float | None = None
    last_webhook_event: str | None = None
    webhooks_accepted: int = 0
    pings: int = 0
    # Refused calls by answer: "401 token", "401 signature", "400 malformed", …
    webhooks_refused: Counter[str] = field(default_factory=Counter)
    # --- fetch on notify -----------------------------------------------------------
    notifications_read: int = 0  # notify jobs that read their Case (one call each)
    api_calls: int = 0  # Salesforce calls made by notify jobs and sweeps
    deliveries: int = 0
    delivered_by_sweep: int = 0
    skipped_records: Counter[str] = field(default_factory=Counter)  # why not delivered
    last_delivery_at: float | None = None
    # From the record's CreatedDate in Salesforce to the host accepting it.
    last_delivery_latency: float | None = None
    sessions_resolved: int = 0
    sessions_moved: int = 0  # to the Case their Case was merged into
    # Each delivery's latency, as it happens (the metrics' histogram listens).
    latency_listeners: list[Callable[[float], None]] = field(default_factory=list)
    # --- the sweep -----------------------------------------------------------------
    sweeps: int = 0
    # Another instance was sweeping (the lock), or had swept since this one's
    # wait began (its turn taken: replies/sweep_turns.py).
    sweeps_skipped: int = 0
    sweeps_not_connected: int = 0  # passes before the first Connect: nothing to read
    sweeps_failed: int = 0  # passes that raised (last_sweep_error says why)
    last_sweep: SweepReport | None = None
    last_sweep_error: str | None = None
    # --- the package's digest (replies/digest.py) ---------------------------------------
    digests: int = 0  # digests received (heartbeats included)
    digest_changes_unread: int = 0  # Cases a digest rang: their doorbell had not been read
    digests_truncated: int = 0  # digests that could not list every change

    def note_delivery_latency(self, seconds: float) -> None:
        """One reply reached the host ``seconds`` after it was written."""
        self.last_delivery_latency = seconds
        for listener in self.latency_listeners:
            listener(seconds)

    def to_json(self) -> dict[str, Any]:
        """A plain dict for the admin page and a metrics endpoint."""
        sweep = self.last_sweep
        return {
            "last_webhook_at": self.last_webhook_at,
            "last_webhook_event": self.last_webhook_event,
            "webhooks_accepted": self.webhooks_accepted,
            "pings": self.pings,
            "webhooks_refused": dict(self.webhooks_refused),
            "notifications_read": self.notifications_read,
            "api_calls": self.api_calls,
            "deliveries": self.deliveries,
            "delivered_by_sweep": self.delivered_by_sweep,
            "skipped_records": dict(self.skipped_records),
            "last_delivery_at": self.last_delivery_at,
            "last_delivery_latency": self.last_delivery_latency,
            "sessions_resolved": self.sessions_resolved,
            "sessions_moved": self.sessions_moved,
            "sweeps": self.sweeps,
            "sweeps_skipped": self.sweeps_skipped,
            "sweeps_not_connected": self.sweeps_not_connected,
            "sweeps_failed": self.sweeps_failed,
            "last_sweep": None if sweep is None else asdict(sweep),
            "sweep_lag_seconds": None if sweep is None else sweep.lag_seconds,
            "calls_per_sweep": None if sweep is None else sweep.api_calls,
            "last_sweep_error": self.last_sweep_error,
            "digests": self.digests,
            "digest_changes_unread": self.digest_changes_unread,
            "digests_truncated": self.digests_truncated,
        }
