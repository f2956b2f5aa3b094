"""Salesforce's dateTime text: the form records store and return
(``2013-05-20T20:49:32.000+0000``) and the ISO-8601 forms the API accepts."""

from __future__ import annotations

import re
from datetime import UTC, datetime

SF_DATETIME = "%Y-%m-%dT%H:%M:%S"


def format_datetime(moment: datetime) -> str:
    """Salesforce's JSON dateTime: ``2013-05-20T20:49:32.000+0000`` (UTC).
    [src: SALESFORCE.md §5 returned dateTime format]"""
    moment = moment.astimezone(UTC)
    return f"{moment.strftime(SF_DATETIME)}.{moment.microsecond // 1000:03d}+0000"


_DATETIME_INPUT = re.compile(
    r"^(?P<date>\d{4}-\d{2}-\d{2})[T ](?P<time>\d{2}:\d{2}(?::\d{2}(?:\.\d{1,9})?)?)"
    r"(?P<tz>Z|[+-]\d{2}:?\d{2})?$"
)


def parse_datetime(text: str) -> datetime | None:
    """An ISO-8601 dateTime as the API accepts it (``Z``, ``+0000`` or ``+00:00``;
    no zone means UTC), or None."""
    matched = _DATETIME_INPUT.match(text.strip())
    if matched is None:
        return None
    zone = matched["tz"] or "Z"
    if zone == "Z":
        zone = "+00:00"
    elif ":" not in zone:
        zone = f"{zone[:3]}:{zone[3:]}"
    clock = matched["time"]
    if clock.count(":") == 1:
        clock += ":00"
    if "." in clock:
        whole, fraction = clock.split(".")
        clock = f"{whole}.{fraction[:6].ljust(6, '0')}"
    try:
        return datetime.fromisoformat(f"{matched['date']}T{clock}{zone}")
    except ValueError:
        return None
