"""What the retention passes did, counted for the log and the metrics."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any


@dataclass
class PassReport:
    """One pass."""

    started_at: float
    cutoff: float  # Cases closed before this (unix seconds) were due
    cases_purged: int = 0
    keys_removed: int = 0
    # Due, but kept for a later pass: open again, being read, or work of their
    # conversation still in the outbox.
    cases_kept: int = 0
    # Listed, but not due after all: reopened, or closed again later (a later
    # day lists them), or already gone.
    listings_dropped: int = 0
    more: bool = False  # stopped at the pass's limit: the next pass comes soon


@dataclass
class RetentionStatus:
    """Counted since this process started (the metrics' counters)."""

    passes: int = 0
    passes_skipped: int = 0  # another instance held the lock or took the turn
    passes_failed: int = 0
    cases_purged: int = 0
    keys_removed: int = 0
    last_pass: PassReport | None = None
    last_error: str | None = None

    def add(self, report: PassReport) -> None:
        self.passes += 1
        self.cases_purged += report.cases_purged
        self.keys_removed += report.keys_removed
        self.last_pass = report
        self.last_error = None

    def to_json(self, retention_days: float) -> dict[str, Any]:
        """For ``status.json``: the setting, and what this instance's passes did
        since it started (the last pass whole, or None before the first)."""
        return {
            "retention_days": retention_days,
            "passes": self.passes,
            "passes_skipped": self.passes_skipped,
            "passes_failed": self.passes_failed,
            "cases_purged": self.cases_purged,
            "keys_removed": self.keys_removed,
            "last_pass": asdict(self.last_pass) if self.last_pass is not None else None,
            "last_error": self.last_error,
        }
