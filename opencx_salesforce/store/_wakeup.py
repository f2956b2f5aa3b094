"""Waking workers that wait on a queue: the loop every backend's ``wait`` shares.

A backend supplies two things: a way to learn when the queue's next item is due
(its smallest ``available_at`` among ready and leased items; a lease's
``available_at`` is its deadline) and a :class:`Wakeups` it pokes whenever an
item is enqueued or put back. ``wait_until_due`` returns as soon as an item is
due, so a worker is woken by new work, by a retry coming due and by a lease
running out, and it never sleeps past its timeout.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable


class Wakeups:
    """One :class:`asyncio.Event` per queue, replaced after each notify.

    A waiter takes the current event *before* it looks at the queue, so a notify
    that lands while it is looking still wakes it (no lost wake-up)."""

    def __init__(self) -> None:
        self._events: dict[str, asyncio.Event] = {}

    def event(self, queue: str) -> asyncio.Event:
        return self._events.setdefault(queue, asyncio.Event())

    def notify(self, queue: str) -> None:
        event = self._events.pop(queue, None)
        if event is not None:
            event.set()

    def notify_all(self) -> None:
        """Used when notifications may have been lost (a dropped connection)."""
        events, self._events = self._events, {}
        for event in events.values():
            event.set()


async def wait_until_due(
    wakeups: Wakeups,
    queue: str,
    timeout: float,
    next_due: Callable[[], Awaitable[float | None]],
    *,
    poll: float | None = None,
) -> None:
    """Return when ``queue`` has a due item, or after ``timeout`` seconds.

    ``poll`` bounds each nap, for backends where another process can add work
    without being able to notify this one (SQLite)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        woken = wakeups.event(queue)
        due = await next_due()
        now = time.time()
        if due is not None and due <= now:
            return
        remaining = deadline - loop.time()
        if remaining <= 0:
            return
        nap = remaining if due is None else min(remaining, due - now)
        if poll is not None:
            nap = min(nap, poll)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(woken.wait(), nap)


async def wait_until_due_in(
    wakeups: Wakeups,
    queue: str,
    timeout: float,
    seconds_until_due: Callable[[], Awaitable[float | None]],
    *,
    poll: float,
) -> None:
    """:func:`wait_until_due` for a backend whose server measures the delay
    (PostgreSQL): ``seconds_until_due`` answers "how long until the next item is
    due" (<= 0: now; ``None``: nothing waits), and naps are timed by the event
    loop's monotonic clock, so the instance's wall clock plays no part. ``poll``
    bounds each nap, in case a notification from another process was lost."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        woken = wakeups.event(queue)
        delay = await seconds_until_due()
        if delay is not None and delay <= 0:
            return
        remaining = deadline - loop.time()
        if remaining <= 0:
            return
        nap = min(remaining, poll, remaining if delay is None else delay)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(woken.wait(), nap)
