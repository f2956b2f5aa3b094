"""Wrong admin tokens, counted per client address: past a few a minute, the
sign-in form answers 429 until the minute is over. A guesser at full speed
tried 1,000 tokens in 0.7 s; the admin who mistypes a few times is not
slowed. Kept in memory, per host instance (a guesser spread over instances
still meets each one's limit), and bounded: the oldest addresses go first.
"""

from __future__ import annotations

import time
from collections import OrderedDict, deque
from collections.abc import Callable

# Wrong tokens an address may send in a window before it waits.
FAILURES_ALLOWED = 10
WINDOW_SECONDS = 60.0
_ADDRESSES_KEPT = 10_000


class LoginThrottle:
    def __init__(
        self,
        *,
        allowed: int = FAILURES_ALLOWED,
        window: float = WINDOW_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._allowed = allowed
        self._window = window
        self._clock = clock
        self._failures: OrderedDict[str, deque[float]] = OrderedDict()

    def wait_for(self, address: str) -> float:
        """Seconds ``address`` must wait before its next try (0: it may try now)."""
        failures = self._recent(address)
        if len(failures) < self._allowed:
            return 0.0
        return max(1.0, failures[0] + self._window - self._clock())

    def failed(self, address: str) -> None:
        failures = self._recent(address)
        failures.append(self._clock())
        self._failures[address] = failures
        self._failures.move_to_end(address)
        while len(self._failures) > _ADDRESSES_KEPT:
            self._failures.popitem(last=False)

    def succeeded(self, address: str) -> None:
        self._failures.pop(address, None)

    def _recent(self, address: str) -> deque[float]:
        failures = self._failures.get(address, deque())
        horizon = self._clock() - self._window
        while failures and failures[0] <= horizon:
            failures.popleft()
        return failures
