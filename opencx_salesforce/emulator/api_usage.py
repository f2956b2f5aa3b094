"""The org's API request counter: what ``DailyApiRequests`` and
``Sforce-Limit-Info`` report."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable

_HOUR = 3600.0
_DAY = 24 * _HOUR


class ApiUsage:
    """API requests the org has served: the rolling 24-hour total that
    ``DailyApiRequests`` and ``Sforce-Limit-Info`` report, and a lifetime count per
    endpoint (first path segment after the version: ``sobjects``, ``query``,
    ``composite``, ...). [src: api_rest headers_api_usage.htm; resources_limits.htm]"""

    def __init__(self, limit: int, now: Callable[[], float]) -> None:
        self.limit = limit
        self.by_endpoint: Counter[str] = Counter()
        self._now = now
        self._buckets: dict[int, int] = {}  # hour number -> requests

    def record(self, endpoint: str, count: int = 1) -> None:
        hour = int(self._now() // _HOUR)
        self._buckets[hour] = self._buckets.get(hour, 0) + count
        self.by_endpoint[endpoint] += count

    @property
    def total(self) -> int:
        """Requests counted in the last 24 hours."""
        oldest = int((self._now() - _DAY) // _HOUR) + 1
        for hour in [h for h in self._buckets if h < oldest]:
            del self._buckets[hour]
        return sum(self._buckets.values())

    @property
    def remaining(self) -> int:
        return max(0, self.limit - self.total)

    @property
    def exhausted(self) -> bool:
        return self.total >= self.limit
