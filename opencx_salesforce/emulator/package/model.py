"""The simulated package's plain data: its limits, fault knobs, counters, log lines
and doorbells, and Apex's string comparison."""

from __future__ import annotations

import contextlib
import json
import random
from dataclasses import dataclass, field, fields
from datetime import UTC, datetime
from typing import Any, Final

from opencx_salesforce.apex import contract

# The Apex's own limits. [src: apexcode apex_gov_limits.htm; apex_callouts_timeouts.htm;
# the generated class's CALLOUT_TIMEOUT_MS / CALLOUT_TIME_BUDGET_MS]
CALLOUT_TIMEOUT_SECONDS: Final = 10.0
CALLOUT_TIME_BUDGET_SECONDS: Final = 120.0
MAX_CALLOUTS_PER_JOB: Final = 100
MAX_JOBS_PER_TRANSACTION: Final = 50
# The generated class's RETRY_DELAYS_MINUTES: a failed callout is tried again by a
# job of its own after each of these delays (AsyncOptions.MinimumQueueableDelayInMinutes).
# [src: apexref apex_class_System_AsyncOptions.htm]
RETRY_DELAYS_MINUTES: Final = (1, 2, 5, 10)
LOG_LENGTH: Final = 1000

# Outcomes of a doorbell in the log.
DELIVERED: Final = "delivered"  # the webhook answered 2xx
FAILED: Final = "failed"  # no answer, or not 2xx; dropped, as the Apex does
DROPPED: Final = "dropped"  # lost by the drop knob: never sent
SKIPPED: Final = "skipped"  # past the Queueable limit; left to the plugin's sweep


# --- knobs, counters, log -----------------------------------------------------------------


@dataclass
class PackageFaults:
    """What goes wrong with one org's webhooks. All off by default; every random
    choice comes from the seeded generator, drawn when a job is enqueued, so a run
    is reproducible."""

    drop_rate: float = 0.0  # probability a doorbell is lost (never sent)
    duplicate_rate: float = 0.0  # probability a callout is sent twice
    delay_ms: float = 0.0  # before each job runs (the Queueable waiting its turn)
    delay_jitter_ms: float = 0.0  # plus a uniform 0..jitter
    # Jobs run concurrently, as Salesforce runs Queueable jobs, instead of one after
    # another; with delay jitter they finish in any order.
    reorder: bool = False
    seed: int = 0
    _random: random.Random = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        self._random = random.Random(self.seed)

    def reseed(self, seed: int) -> None:
        self.seed = seed
        self._random = random.Random(seed)

    def reset(self) -> None:
        """Everything off again; the generator restarts from the seed."""
        self.drop_rate = self.duplicate_rate = self.delay_ms = self.delay_jitter_ms = 0.0
        self.reorder = False
        self.reseed(self.seed)

    def draw_delay(self) -> float:
        jitter = self._random.uniform(0, self.delay_jitter_ms) if self.delay_jitter_ms else 0.0
        return max(0.0, self.delay_ms + jitter) / 1000.0

    def draw_drop(self) -> bool:
        return self.drop_rate > 0 and self._random.random() < self.drop_rate

    def draw_duplicate(self) -> bool:
        return self.duplicate_rate > 0 and self._random.random() < self.duplicate_rate

    def as_dict(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in fields(self) if not f.name.startswith("_")}


@dataclass
class WebhookCounters:
    jobs: int = 0  # Queueable jobs run, chained ones included
    retries: int = 0  # retry jobs enqueued for failed callouts (run when their delay ends)
    sent: int = 0  # callouts made (duplicates included) = delivered + failed
    delivered: int = 0  # answered 2xx
    failed: int = 0  # no answer or not 2xx
    dropped: int = 0  # doorbells lost by the drop knob
    duplicated: int = 0  # extra copies sent by the duplicate knob
    skipped: int = 0  # doorbells past the Queueable limit of their transaction


@dataclass(frozen=True)
class CalloutRecord:
    """One line of the org's webhook log."""

    at: str  # when, ISO 8601 UTC
    event: str
    case_id: str | None
    record_id: str | None
    outcome: str  # DELIVERED, FAILED, DROPPED or SKIPPED
    endpoint: str | None = None
    status: int | None = None
    error: str | None = None  # the CalloutException message, or why it was not sent
    duplicate: bool = False


@dataclass(frozen=True, eq=False)
class Doorbell:
    """One ring: what happened to which record of which Case (the Apex's Doorbell)."""

    event: str
    case_id: str | None
    record_id: str | None
    occurred_at: str  # contract format, e.g. "2026-11-25T01:40:00Z"
    master_record_id: str | None = None  # case.deleted only

    @property
    def key(self) -> str:
        return f"{self.event}:{self.record_id}"

    def body(self, org_id: str) -> str:
        """The JSON the Apex's JSONGenerator writes: compact, fields in contract order
        (``masterRecordId`` after them in a case.deleted body)."""
        values = [self.event, org_id, self.case_id, self.record_id, self.occurred_at]
        fields = contract.payload_fields(self.event)
        values += [self.master_record_id] * (len(fields) - len(values))
        return json.dumps(dict(zip(fields, values, strict=True)), separators=(",", ":"))


def apex_equals(left: Any, right: Any) -> bool:
    """Apex ``==``: strings compare case-insensitively, null equals only null."""
    if isinstance(left, str) and isinstance(right, str):
        return left.casefold() == right.casefold()
    return bool(left == right)


def contract_time(value: Any, fallback: datetime) -> str:
    """A stored dateTime (``2013-05-20T20:49:32.000+0000``) in the contract's format."""
    moment = fallback
    if isinstance(value, str):
        with contextlib.suppress(ValueError):
            moment = datetime.strptime(value[:19], "%Y-%m-%dT%H:%M:%S").replace(tzinfo=UTC)
    return moment.strftime(contract.OCCURRED_AT_STRFTIME)
