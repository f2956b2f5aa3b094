"""The plugin's closed Cases, listed by the day they closed: what lets the
retention pass (:mod:`opencx_salesforce.retention`) find the Cases closed
longer than ``retention_days`` without walking every key of the index.

One namespace a day (``salesforce.closed.2026-12-07``), one key a Case closed
that day: listing a day reads that day's Cases only, on every backend (Redis
lists a namespace from its whole index, so a prefix in one big namespace would
not do). A cursor names the oldest day that may still hold Cases, so a pass
lists the few days that came due since the last, not the whole retention.

A day's key says only "this Case closed that day, look at it then". When it
closed last is the index's ``closed_at`` record (:meth:`.index.CaseIndex.closed_at`),
so a Case closed, reopened and closed again is purged from its last closing:
the pass drops the earlier day's key and the later day's has it.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from datetime import date, timedelta

from opencx_salesforce.clock import SYSTEM_CLOCK, Clock
from opencx_salesforce.store import namespaces
from opencx_salesforce.store.base import Store

CURSOR_NS = namespaces.RETENTION
CURSOR_KEY = "oldest_day"


def day_of(t: float) -> str:
    """The UTC day of ``t``, as the namespaces name it (sorts as the days do)."""
    return time.strftime("%Y-%m-%d", time.gmtime(t))


def namespace(day: str) -> str:
    return f"{namespaces.CLOSED}.{day}"


def days_between(first: str, last: str) -> list[str]:
    """Every day from ``first`` to ``last``, both included (none if first > last)."""
    day, end = date.fromisoformat(first), date.fromisoformat(last)
    days: list[str] = []
    while day <= end:
        days.append(day.isoformat())
        day += timedelta(days=1)
    return days


def next_day(day: str) -> str:
    return (date.fromisoformat(day) + timedelta(days=1)).isoformat()


class ClosedDays:
    def __init__(self, store: Store, *, clock: Clock = SYSTEM_CLOCK) -> None:
        self._store = store
        self._clock = clock

    async def note(self, case_ids: Sequence[str], *, at: float | None = None) -> str:
        """The Cases closed at ``at`` (now): listed under that day. Returns the day."""
        day = day_of(self._clock.time() if at is None else at)
        oldest = await self.oldest()
        if oldest is None:
            await self._store.set_if_absent(CURSOR_NS, CURSOR_KEY, day.encode())
            oldest = await self.oldest()
        # An instance whose clock is behind the cursor lists under the cursor's
        # day: a day before it would never be looked at again.
        if oldest is not None and oldest > day:
            day = oldest
        await self._store.set_many(namespace(day), {case_id: b"1" for case_id in case_ids})
        return day

    async def oldest(self) -> str | None:
        """The oldest day that may still list Cases (None: none was ever listed)."""
        raw = await self._store.get(CURSOR_NS, CURSOR_KEY)
        return None if raw is None else raw.decode()

    async def move_oldest(self, seen: str, to: str) -> None:
        """Every day before ``to`` is empty: the cursor moves there, unless another
        instance moved it meanwhile."""
        await self._store.compare_and_set(CURSOR_NS, CURSOR_KEY, seen.encode(), to.encode())

    async def cases(self, day: str) -> list[str]:
        """The Cases listed under ``day``: one store call."""
        return await self._store.keys(namespace(day))

    async def drop(self, day: str, case_id: str) -> None:
        await self._store.delete(namespace(day), case_id)
