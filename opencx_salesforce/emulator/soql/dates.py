"""Relative date literals (``TODAY``, ``LAST_N_DAYS:30``, ...) as time ranges.

Each literal is a range ``[start, end)`` that begins at midnight; ``=`` tests
"inside", ``<`` "before the start", ``>`` "at or after the end". Ranges start at
00:00:00 in the running user's time zone, which here is the zone of the ``now``
the query runs with. Weeks start on Sunday (the en_US locale). The org's fiscal
year is the default one, starting in January, so the FISCAL forms equal the
calendar ones. [src: soql_sosl sforce_api_calls_soql_select_dateformats.htm
"Date Formats and Date Literals in WHERE"]

Documented ranges this follows: LAST_90_DAYS and LAST_N_DAYS:n start n days
before today and include today ("LAST_N_DAYS:1 includes yesterday and today");
NEXT_90_DAYS and NEXT_N_DAYS:n start tomorrow; N_DAYS_AGO:n is the single day n
days back. The hour forms (LAST_N_HOURS:n, NEXT_N_HOURS:n, N_HOURS_AGO:n) are
not in the pages read (UNCONFIRMED): they follow the day forms, one hour long
buckets instead of days, LAST_N_HOURS:n covering the n hours before the current
one and the current hour.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime, timedelta

Range = tuple[datetime, datetime]

_UNITS = ("HOUR", "DAY", "WEEK", "MONTH", "QUARTER", "YEAR")


def _start_of(unit: str, moment: datetime) -> datetime:
    """The start of the ``unit`` (hour, day, week, ...) that holds ``moment``."""
    hour = moment.replace(minute=0, second=0, microsecond=0)
    if unit == "HOUR":
        return hour
    day = hour.replace(hour=0)
    if unit == "DAY":
        return day
    if unit == "WEEK":
        # Python's weekday(): Monday 0 ... Sunday 6; weeks here start on Sunday.
        return day - timedelta(days=(day.weekday() + 1) % 7)
    if unit == "MONTH":
        return day.replace(day=1)
    if unit == "QUARTER":
        return day.replace(day=1, month=(day.month - 1) // 3 * 3 + 1)
    return day.replace(day=1, month=1)


def _shift(unit: str, start: datetime, count: int) -> datetime:
    """``start`` (the start of a unit) moved by ``count`` units, in local time."""
    if unit == "HOUR":
        return start + timedelta(hours=count)
    if unit == "DAY":
        return _local(start, start.date() + timedelta(days=count))
    if unit == "WEEK":
        return _local(start, start.date() + timedelta(weeks=count))
    months = {"MONTH": 1, "QUARTER": 3, "YEAR": 12}[unit] * count
    index = start.year * 12 + start.month - 1 + months
    return start.replace(year=index // 12, month=index % 12 + 1)


def _local(template: datetime, day: date) -> datetime:
    # The same wall-clock time on another day, in the same zone.
    return template.replace(year=day.year, month=day.month, day=day.day)


def _span(unit: str, first: int, count: int) -> Callable[[datetime, int | None], Range]:
    """A literal covering ``count`` units starting ``first`` units from the
    current one (negative: in the past)."""

    def compute(now: datetime, _n: int | None) -> Range:
        current = _start_of(unit, now)
        return _shift(unit, current, first), _shift(unit, current, first + count)

    return compute


def _last_n(unit: str, *, include_current: bool) -> Callable[[datetime, int | None], Range]:
    def compute(now: datetime, n: int | None) -> Range:
        current = _start_of(unit, now)
        end = _shift(unit, current, 1 if include_current else 0)
        return _shift(unit, current, -(n or 0)), end

    return compute


def _next_n(unit: str) -> Callable[[datetime, int | None], Range]:
    def compute(now: datetime, n: int | None) -> Range:
        following = _shift(unit, _start_of(unit, now), 1)
        return following, _shift(unit, following, n or 0)

    return compute


def _n_ago(unit: str) -> Callable[[datetime, int | None], Range]:
    def compute(now: datetime, n: int | None) -> Range:
        start = _shift(unit, _start_of(unit, now), -(n or 0))
        return start, _shift(unit, start, 1)

    return compute


# Literals without a number.
SIMPLE: dict[str, Callable[[datetime, int | None], Range]] = {
    "YESTERDAY": _span("DAY", -1, 1),
    "TODAY": _span("DAY", 0, 1),
    "TOMORROW": _span("DAY", 1, 1),
    "LAST_90_DAYS": lambda now, _n: _last_n("DAY", include_current=True)(now, 90),
    "NEXT_90_DAYS": lambda now, _n: _next_n("DAY")(now, 90),
}
for _unit in ("WEEK", "MONTH", "QUARTER", "YEAR"):
    SIMPLE[f"LAST_{_unit}"] = _span(_unit, -1, 1)
    SIMPLE[f"THIS_{_unit}"] = _span(_unit, 0, 1)
    SIMPLE[f"NEXT_{_unit}"] = _span(_unit, 1, 1)
for _unit in ("QUARTER", "YEAR"):
    for _when in ("LAST", "THIS", "NEXT"):
        SIMPLE[f"{_when}_FISCAL_{_unit}"] = SIMPLE[f"{_when}_{_unit}"]

# Literals written ``NAME:n``.
WITH_NUMBER: dict[str, Callable[[datetime, int | None], Range]] = {}
for _unit in _UNITS:
    _plural = f"{_unit}S"
    WITH_NUMBER[f"LAST_N_{_plural}"] = _last_n(_unit, include_current=_unit in ("DAY", "HOUR"))
    WITH_NUMBER[f"NEXT_N_{_plural}"] = _next_n(_unit)
    WITH_NUMBER[f"N_{_plural}_AGO"] = _n_ago(_unit)
for _unit in ("QUARTER", "YEAR"):
    _plural = f"{_unit}S"
    WITH_NUMBER[f"LAST_N_FISCAL_{_plural}"] = WITH_NUMBER[f"LAST_N_{_plural}"]
    WITH_NUMBER[f"NEXT_N_FISCAL_{_plural}"] = WITH_NUMBER[f"NEXT_N_{_plural}"]
    WITH_NUMBER[f"N_FISCAL_{_plural}_AGO"] = WITH_NUMBER[f"N_{_plural}_AGO"]


def date_range(name: str, n: int | None, now: datetime) -> Range:
    """``[start, end)`` of the literal ``name`` (upper case) at ``now``."""
    compute = SIMPLE.get(name) or WITH_NUMBER[name]
    return compute(now, n)
