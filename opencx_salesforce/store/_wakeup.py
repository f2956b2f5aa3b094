"""Waking workers that wait on a queue: the loop every backend's ``wait`` shares.

A backend supplies two things: a way to learn how long until the queue's next
item is due, measured on the store's clock (a lease's deadline counts: a lease
running out makes its item due), and a :class:`Wakeups` it pokes whenever an
item is enqueued or put back. :func:`wait_until_due` returns as soon as an item
is due, so a worker is woken by new work, by a retry coming due and by a lease
running out, and it never sleeps past its timeout. Naps are timed by the event
loop's monotonic clock: the instance's wall clock plays no part.

One job, one worker: a poke wakes *one* idle waiter, not all of them, so a
handoff costs one worker's look at the queue instead of every idle worker's.
No job is left waiting while a worker idles: a waiter registers before it looks
at the queue, so a poke that lands while it looks still wakes it; a woken waiter
always looks at the queue again before it sleeps; and a poke that finds no
waiter needs none, since every busy worker leases again before it waits.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque
from collections.abc import Awaitable, Callable


class Wakeups:
    """Per queue, the idle waiters in the order they started waiting."""

    def __init__(self) -> None:
        self._waiters: dict[str, deque[asyncio.Future[None]]] = {}
        self.woken = 0  # how many waiters a poke has woken (tests count it)

    def register(self, queue: str) -> asyncio.Future[None]:
        waiter = asyncio.get_running_loop().create_future()
        self._waiters.setdefault(queue, deque()).append(waiter)
        return waiter

    def discard(self, queue: str, waiter: asyncio.Future[None]) -> None:
        waiters = self._waiters.get(queue)
        if waiters is not None:
            with contextlib.suppress(ValueError):  # a poke already took it
                waiters.remove(waiter)
            if not waiters:
                del self._waiters[queue]

    def waiting(self, queue: str) -> int:
        """How many workers wait on ``queue`` now (tests wait for an idle worker)."""
        return sum(not waiter.done() for waiter in self._waiters.get(queue, ()))

    def notify(self, queue: str) -> None:
        """One item may have become due: wake the longest-idle waiter."""
        waiters = self._waiters.get(queue)
        while waiters:
            waiter = waiters.popleft()
            if not waiter.done():
                waiter.set_result(None)
                self.woken += 1
                return

    def notify_all(self) -> None:
        """Used when notifications may have been lost (a dropped connection)."""
        everyone, self._waiters = self._waiters, {}
        for waiters in everyone.values():
            for waiter in waiters:
                if not waiter.done():
                    waiter.set_result(None)
                    self.woken += 1


async def wait_until_due(
    wakeups: Wakeups,
    queue: str,
    timeout: float,
    seconds_until_due: Callable[[], Awaitable[float | None]],
    *,
    poll: float | None = None,
) -> None:
    """Return when ``queue`` has a due item, when a poke wakes this waiter, or
    after ``timeout`` seconds.

    ``seconds_until_due`` answers "how long until the next item is due" on the
    store's clock (<= 0: now; ``None``: nothing waits). ``poll`` bounds each nap,
    for backends where another process can add work without being able to
    notify this one (SQLite), or may lose a notification (PostgreSQL)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        waiter = wakeups.register(queue)
        try:
            delay = await seconds_until_due()
            if delay is not None and delay <= 0:
                return
            remaining = deadline - loop.time()
            if remaining <= 0:
                return
            nap = remaining if delay is None else min(remaining, delay)
            if poll is not None:
                nap = min(nap, poll)
            await asyncio.wait({waiter}, timeout=nap)
            if waiter.done():
                return  # poked: the caller leases now
        finally:
            wakeups.discard(queue, waiter)
