"""What the outbox workers say when the store fails them: the first error of a
spell with its traceback, then one line an interval counting the errors since.
Each of the (256) workers met every error of an outage and logged it whole:
a few seconds of a read-only PostgreSQL wrote 3 MB of tracebacks."""

from __future__ import annotations

import logging
from collections.abc import Callable

log = logging.getLogger("opencx_salesforce.outbox.queue")

# How often, during a spell of store errors, one line says how it goes.
SUMMARY_INTERVAL = 30.0


class StoreTrouble:
    def __init__(self, monotonic: Callable[[], float], interval: float = SUMMARY_INTERVAL) -> None:
        self._now = monotonic
        self._interval = interval
        self._said_at: float | None = None  # None: no spell going
        self._since = 0  # errors since the last line

    def note(self, error: Exception, pause: float) -> None:
        now = self._now()
        self._since += 1
        if self._said_at is None:
            log.error(
                "outbox worker: store error; the workers look again in %.0f s, then less often",
                pause,
                exc_info=error,
            )
        elif now - self._said_at >= self._interval:
            log.error(
                "outbox workers: %d store errors in the last %.0f s; the latest: %s: %s",
                self._since,
                now - self._said_at,
                type(error).__name__,
                error,
            )
        else:
            return
        self._said_at, self._since = now, 0

    def over(self) -> None:
        """The store answered again: the spell is over."""
        if self._said_at is not None:
            log.info("outbox workers: the store answers again")
            self._said_at, self._since = None, 0
