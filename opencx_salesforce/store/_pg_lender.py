"""Connections the PostgreSQL store keeps out of its asyncpg pool and lends, one
statement at a time (#18).

Every statement took a connection from the pool and gave it back:
``Pool.acquire`` (a queue, a holder's checks) and ``Pool.release`` (a task
under ``asyncio.shield`` and a timeout) cost more of this process's CPU than
the statement's own work. Here a connection taken from the pool stays with the
store: lending it is a list pop, taking it back a list push, or a hand-over to
the caller that has waited longest. At most ``size`` (the pool's ``pool_max``)
are taken, so the store never opens more connections than before.

A connection that closed (a restart, a terminated backend, one the store's
retries terminated) goes back to the pool, which opens a new one in its place;
so does one nobody borrowed for ``idle_for`` seconds, so the pool's own
inactivity timeout can close it after a burst, as before.
"""

from __future__ import annotations

import asyncio
from collections import deque

import asyncpg
from asyncpg.pool import PoolConnectionProxy


def _closed(connection: PoolConnectionProxy) -> bool:
    try:
        return connection.is_closed()
    except asyncpg.InterfaceError:  # asyncpg gave it back to the pool when it closed
        return True


class Lender:
    def __init__(self, pool: asyncpg.Pool, *, size: int, idle_for: float = 60.0) -> None:
        self._pool = pool
        self._size = size
        self.idle_for = idle_for
        self._taken = 0  # connections taken from the pool: lent or idle
        self._idle: list[tuple[PoolConnectionProxy, float]] = []  # oldest release first
        # Callers waiting for a connection: handed one, or None for "take one
        # from the pool" when a connection closed.
        self._waiters: deque[asyncio.Future[PoolConnectionProxy | None]] = deque()
        self._trim: asyncio.TimerHandle | None = None
        self._returning: set[asyncio.Task[None]] = set()
        self._closed = False

    async def acquire(self) -> PoolConnectionProxy:
        while self._idle:
            connection = self._idle.pop()[0]  # the last one used: the others idle on
            if not _closed(connection):
                return connection
            await self._give_back(connection)
        if self._taken >= self._size or self._waiters:
            waiter: asyncio.Future[PoolConnectionProxy | None]
            waiter = asyncio.get_running_loop().create_future()
            self._waiters.append(waiter)
            try:
                handed = await waiter
            except asyncio.CancelledError:
                if not waiter.done():
                    self._waiters.remove(waiter)
                elif not waiter.cancelled():
                    # Handed something as this caller was cancelled: pass it on.
                    if (given := waiter.result()) is not None:
                        await self.release(given)
                    else:
                        self._taken -= 1
                        self._next_from_pool()
                raise
            if handed is not None:
                return handed
            # else a connection closed: its place, counted already, is this caller's
        else:
            self._taken += 1
        try:
            return await self._pool.acquire()
        except BaseException:
            self._taken -= 1
            self._next_from_pool()
            raise

    async def release(self, connection: PoolConnectionProxy) -> None:
        if self._closed or _closed(connection):
            await self._give_back(connection)
            return
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_result(connection)
                return
        loop = asyncio.get_running_loop()
        self._idle.append((connection, loop.time()))
        if self._trim is None:
            self._trim = loop.call_later(self.idle_for, self._return_idle)

    async def _give_back(self, connection: PoolConnectionProxy) -> None:
        self._taken -= 1
        try:
            await self._pool.release(connection)
        finally:
            self._next_from_pool()

    def _next_from_pool(self) -> None:
        """If a place is free, the longest waiter takes a connection from the pool."""
        while self._waiters and self._taken < self._size:
            waiter = self._waiters.popleft()
            if not waiter.done():
                self._taken += 1
                waiter.set_result(None)
                return

    def _return_idle(self) -> None:
        """Connections idle for ``idle_for`` seconds go back to the pool."""
        self._trim = None
        loop = asyncio.get_running_loop()
        cutoff = loop.time() - self.idle_for
        stale = 0
        while stale < len(self._idle) and self._idle[stale][1] <= cutoff:
            stale += 1
        for connection, _ in self._idle[:stale]:
            task = loop.create_task(self._give_back(connection))
            self._returning.add(task)
            task.add_done_callback(self._returning.discard)
        del self._idle[:stale]
        if self._idle:
            self._trim = loop.call_later(
                self._idle[0][1] + self.idle_for - loop.time(), self._return_idle
            )

    async def close(self) -> None:
        """Give every idle connection back (the pool's close waits for them);
        one lent now goes back when its statement ends."""
        self._closed = True
        if self._trim is not None:
            self._trim.cancel()
            self._trim = None
        idle, self._idle = self._idle, []
        for connection, _ in idle:
            await self._give_back(connection)
        if self._returning:
            await asyncio.gather(*self._returning, return_exceptions=True)
