"""One log line in a while for a condition that repeats: the first time at
once, then at most one line an interval, counting the times in between (each
logged at DEBUG by the caller). A PostgreSQL outage logged a retry warning
for every statement of every worker, 300 lines a second; a Redis outage the
lost wake-up channel twice a second; readiness an ERROR for every probe."""

from __future__ import annotations

import time
from collections.abc import Callable

# Seconds between two lines about one repeating condition.
EVERY = 30.0


class LogThrottle:
    def __init__(self, every: float = EVERY, clock: Callable[[], float] = time.monotonic) -> None:
        self._every = every
        self._clock = clock
        self._last: float | None = None
        self._times = 0  # since the last line, this one included

    def due(self) -> tuple[int, float] | None:
        """Count one more time. When a line is due: the times it stands for
        (1: only this one) and the seconds since the last line (0 for the
        first); None when not."""
        now = self._clock()
        self._times += 1
        if self._last is not None and now - self._last < self._every:
            return None
        since = 0.0 if self._last is None else now - self._last
        times, self._times, self._last = self._times, 0, now
        return times, since


def also(report: tuple[int, float]) -> str:
    """ " (N times in the last M s)" for a line that stands for several."""
    times, since = report
    return "" if times == 1 else f" ({times} times in the last {since:.0f} s)"
