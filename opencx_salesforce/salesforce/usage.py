"""The org's daily API usage, as Salesforce reports it on every response."""

from __future__ import annotations

import re
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class ApiUsage:
    """The org's API calls in the last 24 hours, as Salesforce reported on the
    latest response: ``Sforce-Limit-Info: api-usage=18/5000``.
    [src: api_rest headers_api_usage.htm]"""

    used: int
    limit: int

    @property
    def remaining(self) -> int:
        return max(0, self.limit - self.used)

    @property
    def fraction(self) -> float:
        return self.used / self.limit if self.limit else 1.0


_API_USAGE = re.compile(r"(?:^|[;,\s])api-usage=(\d+)/(\d+)")


def parse_limit_info(header: str | None) -> ApiUsage | None:
    """``api-usage=N/MAX`` out of the header, ignoring ``api-bursts=…`` and
    ``per-app-api-usage=…`` beside it."""
    if not header:
        return None
    match = _API_USAGE.search(header)
    if match is None:
        return None
    return ApiUsage(used=int(match.group(1)), limit=int(match.group(2)))
