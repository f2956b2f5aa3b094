"""The one retry policy: which failures of an outbox job are worth another try.

Retried (with backoff and jitter, at least ``retry_after`` when one is known):

* a :class:`~opencx_salesforce.salesforce.errors.SalesforceError` whose
  ``is_retryable`` says so: could not reach Salesforce, a locked row, a server
  error, 503, the daily quota, a token refresh another instance holds;
* :class:`NeedsReauthorization`: the job waits for an admin to click Connect,
  looking again every :data:`REAUTH_WAIT` seconds, as long as the dead-letter
  age allows; connecting again wakes it at once (:func:`waits_for_admin`);
* a transport error below the client, or from the host (``OSError``,
  ``TimeoutError``, ``aiohttp.ClientError``).

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
    if isinstance(exc, TimeoutError | aiohttp.ClientError | OSError):
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
# How often work held by the gate looks again (a store round trip, no API call), so
# it follows a successful probe within about this long.
LOOK_AGAIN = 1.0


class OutageGate:
    """Holds an org's work while Salesforce said "unavailable, retry after N s".

    Retry-After is respected for the request that got it: that job is not sent
    again before its Retry-After, unless the org is proven back meanwhile. Other
    work is held too (no point sending it into a 503), except one probe at a
    time, 1 s, then 2 s, 4 s… (at most 30 s) after the outage was announced. When
    any request succeeds (a probe, or a job whose wait ran out), the gate opens and
    everything held goes within :data:`LOOK_AGAIN` seconds.

    One gate per outbox (per host instance): each instance probes for itself.
    """

    def __init__(self, *, first_probe: float = FIRST_PROBE, probe_cap: float = PROBE_CAP) -> None:
        self._first_probe = first_probe
        self._probe_cap = probe_cap
        self._until: float | None = None
        self._probe_at = 0.0
        self._interval = first_probe
        self._told: dict[str, float] = {}  # job -> its own Retry-After deadline
        self.probes = 0  # probes let through (for tests and the status page)

    @property
    def closed_until(self) -> float | None:
        return self._until

    def note_failure(self, item_id: str, exc: BaseException, now: float) -> float | None:
        """When the failed job should look again, if the failure announced an
        outage (None: not this gate's business)."""
        wait = announced_outage(exc)
        if wait is None:
            return None
        if self._until is None or now >= self._until:
            self._interval = self._first_probe
            self._probe_at = now + self._interval
        self._until = max(self._until or now, now + wait)
        self._told[item_id] = now + wait
        return self._look_again(now)

    def admit(self, item_id: str, now: float) -> float | None:
        """None: send the job now. Otherwise when it should look again."""
        if self._until is None:
            return None
        if now >= self._until:
            self.note_success()
            return None
        told = self._told.get(item_id)
        if told is not None:
            if now >= told:  # its own Retry-After has passed
                del self._told[item_id]
                return None
            return self._look_again(now)
        if now >= self._probe_at:
            # This job is the probe; the next one comes later.
            self._interval = min(self._interval * 2, self._probe_cap)
            self._probe_at = now + self._interval
            self.probes += 1
            return None
        return self._look_again(now)

    def told(self, item_id: str) -> bool:
        """Whether the job itself got the Retry-After it waits on."""
        return item_id in self._told

    def note_success(self) -> None:
        """A request went through: the org is back."""
        self._until = None
        self._told.clear()

    def _look_again(self, now: float) -> float:
        assert self._until is not None
        return min(self._until, now + LOOK_AGAIN)
