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

One watcher: of the idle waiters of a queue (per store object), only one, the
*watcher*, naps until the next item is due and polls; the others sleep until
poked or timed out. A waiter that sees an item due before the watcher would
look takes the watch over. When the watcher leaves, the longest-idle waiter
looks again and takes over; when it left to take work, that look waits
:data:`SETTLE` seconds first, so it does not find the very item the leaver is
leasing still due and lease for nothing (with every idle worker in turn: that
chain was most of SQLite's leases under load). So an item coming due wakes one
worker, and an idle SQLite store polls once per ``poll``, not once per worker.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
from collections import deque
from collections.abc import Awaitable, Callable, Iterator
from typing import Any

# How long the waiter taking the watch over from one that left to lease waits
# before it looks: a lease's round trip, with room (work that really is due
# for a second worker waits this long at most).
SETTLE = 0.02
_POKE = -1.0  # a waiter's future resolves to this when poked, else to a pause


class Wakeups:
    """Per queue, the idle waiters in the order they started waiting, and the
    one of them that watches the clock (see :func:`wait_until_due`).

    A waiter's future resolves to ``_POKE`` when there is work for it (return
    and lease), or to a pause (seconds) after which it looks at the queue again
    as the new watcher."""

    def __init__(self) -> None:
        self._waiters: dict[str, deque[asyncio.Future[float]]] = {}
        # queue -> (the watching wait call, its current future, when it looks
        # next on the event loop's clock)
        self._watchers: dict[str, tuple[object, asyncio.Future[float], float]] = {}
        self._leasing: dict[str, int] = {}  # leases in flight, per queue
        self._leased: dict[str, list[asyncio.Future[None]]] = {}
        self.woken = 0  # how many waiters a poke has woken (tests count it)

    @contextlib.contextmanager
    def leasing(self, queue: str) -> Iterator[None]:
        """Around a store's ``lease``: a waiter that finds an item due while a
        lease of this store is in flight waits for that lease before it leases
        too (the item is most likely the one being taken)."""
        self._leasing[queue] = self._leasing.get(queue, 0) + 1
        try:
            yield
        finally:
            self._leasing[queue] -= 1
            if not self._leasing[queue]:
                del self._leasing[queue]
            for done in self._leased.pop(queue, ()):
                if not done.done():
                    done.set_result(None)

    def lease_done(self, queue: str) -> asyncio.Future[None] | None:
        """A future resolved when a lease of ``queue`` in flight now ends; None
        when none is."""
        if queue not in self._leasing:
            return None
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._leased.setdefault(queue, []).append(done)
        return done

    def register(self, queue: str) -> asyncio.Future[float]:
        waiter = asyncio.get_running_loop().create_future()
        self._waiters.setdefault(queue, deque()).append(waiter)
        return waiter

    def discard(self, queue: str, waiter: asyncio.Future[float]) -> None:
        waiters = self._waiters.get(queue)
        if waiters is not None:
            with contextlib.suppress(ValueError):  # a poke already took it
                waiters.remove(waiter)
            if not waiters:
                del self._waiters[queue]

    def waiting(self, queue: str) -> int:
        """How many workers wait on ``queue`` now (tests wait for an idle worker)."""
        return sum(not waiter.done() for waiter in self._waiters.get(queue, ()))

    def watch(
        self, queue: str, caller: object, waiter: asyncio.Future[float], *, due: float, at: float
    ) -> bool:
        """``caller`` saw the next item due at ``due`` and would look again at
        ``at`` (loop times). It becomes the queue's watcher if there is none, or
        if the watcher would look only after that item is due. True if it is
        the watcher (which then looks at ``at``)."""
        current = self._watchers.get(queue)
        if current is None or current[0] is caller or due < current[2]:
            self._watchers[queue] = (caller, waiter, at)
            return True
        return False

    def unwatch(self, queue: str, caller: object, *, settle: float, handed: bool) -> None:
        """``caller`` stops waiting: if it was the watcher, or was handed the
        watch and left before taking it up (it found work due) while no one else
        took it, the longest-idle waiter takes over, looking at the queue after
        ``settle`` seconds."""
        current = self._watchers.get(queue)
        if current is not None and current[0] is caller:
            del self._watchers[queue]
        elif not (handed and current is None):
            return
        self._wake(queue, settle)

    def notify(self, queue: str) -> None:
        """One item may have become due: wake the longest-idle waiter (the
        watcher only when no other waits: it keeps watching the clock)."""
        self._wake(queue, _POKE)

    def _wake(self, queue: str, result: float) -> None:
        waiters = self._waiters.get(queue)
        if not waiters:
            return
        watching = self._watchers.get(queue)
        watcher = None if watching is None else watching[1]
        chosen = next((w for w in waiters if not w.done() and w is not watcher), None)
        if chosen is None and watcher is not None and not watcher.done() and watcher in waiters:
            chosen = watcher
        if chosen is None:
            return
        waiters.remove(chosen)
        chosen.set_result(result)
        self.woken += result == _POKE

    def notify_all(self) -> None:
        """Used when notifications may have been lost (a dropped connection)."""
        everyone, self._waiters = self._waiters, {}
        for waiters in everyone.values():
            for waiter in waiters:
                if not waiter.done():
                    waiter.set_result(_POKE)
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
    store's clock (<= 0: now; ``None``: nothing waits). ``poll`` bounds the
    watcher's naps, for backends where another process can add work without
    being able to notify this one (SQLite), or may lose a notification
    (PostgreSQL). Only the watcher (see the module docstring) naps to the due
    time or the poll; the other waiters sleep until poked or timed out."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    me = object()
    pause = 0.0  # set when this waiter takes the watch over from one that left
    settle = 0.0  # what the waiter taking over from this one waits, if it leaves
    deferred = False  # the last look found an item due and waited for a lease
    handed = False  # handed the watch, not yet taken up: pass it on if leaving
    try:
        while True:
            waiter = wakeups.register(queue)
            try:
                if pause > 0:
                    await asyncio.wait({waiter}, timeout=min(pause, deadline - loop.time()))
                    pause = 0.0
                    if waiter.done():
                        if waiter.result() == _POKE:
                            settle = SETTLE
                            return
                        handed = True
                        continue  # asked to look again: with a fresh future
                delay = await seconds_until_due()
                if delay is not None and delay <= 0:
                    in_flight = None if deferred else wakeups.lease_done(queue)
                    if in_flight is not None:
                        # A lease of this store is under way: the item is most
                        # likely the one it takes. Look again once it has ended
                        # (still registered: a poke still wakes this waiter).
                        deferred = True
                        either: set[asyncio.Future[Any]] = {waiter, in_flight}
                        await asyncio.wait(
                            either,
                            timeout=deadline - loop.time(),
                            return_when=asyncio.FIRST_COMPLETED,
                        )
                        if waiter.done():
                            if waiter.result() == _POKE:
                                settle = SETTLE
                                return
                            handed = True
                        continue
                    settle = SETTLE  # this worker leases the due item now
                    return
                deferred = False
                now = loop.time()
                remaining = deadline - now
                if remaining <= 0:
                    return
                nap = remaining if delay is None else min(remaining, delay)
                if poll is not None:
                    nap = min(nap, poll)
                due = math.inf if delay is None else now + delay
                handed = False  # taken up, or someone else watches
                if not wakeups.watch(queue, me, waiter, due=due, at=now + nap):
                    nap = remaining  # the watcher looks before this one would
                await asyncio.wait({waiter}, timeout=nap)
                if waiter.done():
                    if waiter.result() == _POKE:
                        settle = SETTLE
                        return  # poked: the caller leases now
                    pause = waiter.result()
                    handed = True
            finally:
                wakeups.discard(queue, waiter)
    finally:
        wakeups.unwatch(queue, me, settle=settle, handed=handed)
