"""The one retry policy: which failures of an outbox job are worth another try.

Retried (with backoff and jitter, at least ``retry_after`` when one is known):

* a :class:`~opencx_salesforce.salesforce.errors.SalesforceError` whose
  ``is_retryable`` says so: could not reach Salesforce, a locked row, a server
  error, 503, the daily quota, a token refresh another instance holds;
* :class:`NeedsReauthorization`: the job waits for an admin to click Connect,
  looking again every :data:`REAUTH_WAIT` seconds, as long as the dead-letter
  age allows; connecting again wakes it at once (:func:`waits_for_admin`);
* a transport error below the client, or from the host (``OSError``,
  ``TimeoutError``, ``aiohttp.ClientError``), or an error of the store's own
  driver (SQLite, PostgreSQL, Redis).

Everything else is dead-lettered at once with its message, which the settings
page shows: Salesforce refusing a record (a validation rule, a required field, a
bad value) will refuse it again, and an unexpected exception is a bug that no
amount of retrying fixes.
"""

from __future__ import annotations

from collections.abc import Callable

import aiohttp

from opencx_salesforce.salesforce.errors import (
    NeedsReauthorization,
    NotConnectedYet,
    SalesforceError,
    Unavailable,
)
from opencx_salesforce.store.failures import from_the_store

# Waiting for an admin to reconnect is not a failure of the job: look again
# every few minutes, for as long as the dead-letter age allows.
REAUTH_WAIT = 120.0

RetryHint = Callable[[BaseException], tuple[bool, float | None]]
"""The outbox's question about a failure: can this succeed later without anyone
changing anything, and after how many seconds at least (``None``: no opinion)?"""


def retry_hint(exc: BaseException) -> tuple[bool, float | None]:
    """The plugin's answer to :data:`RetryHint` (see the module docstring)."""
    if isinstance(exc, NeedsReauthorization):
        return True, REAUTH_WAIT
    if isinstance(exc, SalesforceError):
        return exc.is_retryable, exc.retry_after
    if isinstance(exc, TimeoutError | aiohttp.ClientError | OSError) or from_the_store(exc):
        # The store's own error inside a job (a PostgreSQL pool closing as the
        # host stops, a failover) passes: it was a dead letter at once.
        return True, None
    return False, None


# The errors of a job that waits for an admin to connect, as the outbox records
# them (``"<type>: <message>"``): a grant lost, and none given yet (a handoff
# queued before the first Connect waited out REAUTH_WAIT after it).
_ADMIN_WAITS = tuple(f"{kind.__name__}:" for kind in (NeedsReauthorization, NotConnectedYet))


def waits_for_admin(last_error: str | None) -> bool:
    """Whether a queued job's last error says it waits for an admin to connect."""
    return bool(last_error) and str(last_error).startswith(_ADMIN_WAITS)


def announced_outage(exc: BaseException) -> float | None:
    """Seconds Salesforce said to wait when it answered 503 with a Retry-After
    header (down for maintenance, overloaded); None for any other failure."""
    if isinstance(exc, Unavailable) and exc.retry_after is not None:
        return exc.retry_after
    return None


# An outage is often announced longer than it lasts (Retry-After: 60 for a few
# seconds of maintenance). One probe request at growing intervals finds out early.
FIRST_PROBE = 1.0
PROBE_CAP = 30.0


class OutageGate:
    """Holds an org's work while Salesforce said "unavailable, retry after N s".

    While the gate is closed the workers lease nothing: held work stays queued
    as it was, with no attempt counted and no store write (a job looked at
    again every second counted an attempt each time, so the page said "attempt
    300" after five minutes and the job's next ordinary failure waited the
    backoff's cap). One probe at a time goes through, 1 s, then 2 s, 4 s… (at
    most 30 s) after the outage was announced: a worker may lease one due job
    and send it. A job that got the Retry-After itself waits it out in the
    queue (Retry-After is respected for the request that got it) unless the
    org is proven back first. When any request succeeds the gate opens: the
    workers lease again at once, and :meth:`note_success` names the jobs still
    waiting out their own Retry-After, to be made due. When the longest
    announced wait has passed the gate opens by itself.

    One gate per outbox (per host instance): each instance probes for itself.
    """

    def __init__(self, *, first_probe: float = FIRST_PROBE, probe_cap: float = PROBE_CAP) -> None:
        self._first_probe = first_probe
        self._probe_cap = probe_cap
        self._until: float | None = None
        self._probe_at = 0.0
        self._interval = first_probe
        self._told: set[str] = set()  # jobs waiting out their own Retry-After
        self.probes = 0  # probes let through (for tests and the status page)

    @property
    def closed_until(self) -> float | None:
        return self._until

    @property
    def next_probe_at(self) -> float | None:
        """When the next probe may go (None: the gate is open)."""
        return None if self._until is None else self._probe_at

    def holding(self, now: float) -> bool:
        """Whether work is held at ``now`` (the probe aside)."""
        return self._until is not None and now < self._until

    def note_failure(self, item_id: str, exc: BaseException, now: float) -> float | None:
        """How long the failed job waits, if the failure announced an outage
        (None: not this gate's business)."""
        wait = announced_outage(exc)
        if wait is None:
            return None
        if not self.holding(now):
            self._interval = self._first_probe
            self._probe_at = now + self._interval
        self._until = max(self._until or now, now + wait)
        self._told.add(item_id)
        return wait

    def lease_wait(self, now: float) -> float | None:
        """None: a worker may lease a job now (the gate is open, or this lease
        is the probe). Otherwise how long to wait before asking again."""
        if self._until is None:
            return None
        if now >= self._until:
            self.note_success()  # every announced wait is over
            return None
        if now >= self._probe_at:
            # This lease is the probe; the next one comes later.
            self._interval = min(self._interval * 2, self._probe_cap)
            self._probe_at = now + self._interval
            self.probes += 1
            return None
        return min(self._until, self._probe_at) - now

    def note_success(self) -> set[str]:
        """A request went through: the org is back. Returns the jobs that were
        waiting out their own Retry-After (due now: nothing holds them)."""
        told, self._told = self._told, set()
        self._until = None
        return told
