"""``LISTEN`` on one connection of its own, turning ``NOTIFY``s into local wake-ups.

The store's writes send ``pg_notify(channel, "<sender>:<queue>")`` inside the statement that
adds or puts back work, so the notification leaves only when that work is
committed and visible. A dropped connection loses notifications: the listener
then wakes every local waiter (they re-read the queue) and reconnects with
backoff; the waiters' fallback poll covers the time it is away.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

import asyncpg

from opencx_salesforce.store._wakeup import Wakeups

log = logging.getLogger(__name__)


class Listener:
    def __init__(self, dsn: str, channel: str, wakeups: Wakeups, sender: str) -> None:
        self._dsn = dsn
        self._sender = sender
        self.channel = channel
        self._wakeups = wakeups
        self._task: asyncio.Task[None] | None = None
        self._started = asyncio.Lock()
        self._lost = asyncio.Event()

    def _on_notify(self, connection: object, pid: int, channel: str, payload: object) -> None:
        # "<sender>:<queue>": the sending store has already woken one of its
        # own waiters, so it skips its own notification (one job, one worker).
        sender, _, queue = str(payload).partition(":")
        if sender != self._sender:
            self._wakeups.notify(queue)

    def _on_terminate(self, connection: object) -> None:
        self._lost.set()

    async def _connect(self) -> asyncpg.Connection:
        conn = await asyncpg.connect(self._dsn)
        try:
            await conn.add_listener(self.channel, self._on_notify)
        except BaseException:
            await conn.close()
            raise
        conn.add_termination_listener(self._on_terminate)
        return conn

    async def ensure_started(self) -> None:
        """Listening before the first waiter looks at a queue: a notify sent after
        this returns cannot be missed (while the connection holds)."""
        async with self._started:
            if self._task is not None:
                return
            conn = await self._connect()
            self._task = asyncio.create_task(self._hold(conn), name=f"LISTEN {self.channel}")

    async def _hold(self, conn: asyncpg.Connection) -> None:
        pause = 0.1
        while True:
            try:
                await self._lost.wait()
            finally:
                with contextlib.suppress(Exception):
                    await asyncio.shield(conn.close(timeout=1))
            log.warning("lost the store's LISTEN connection; reconnecting")
            self._wakeups.notify_all()  # a notification may have been lost
            while True:
                await asyncio.sleep(pause)
                self._lost.clear()
                try:
                    conn = await self._connect()
                except (OSError, asyncpg.PostgresError) as exc:
                    pause = min(pause * 2, 5.0)
                    log.warning("LISTEN reconnect failed (%s); retrying in %.1fs", exc, pause)
                    continue
                pause = 0.1
                self._wakeups.notify_all()  # whatever came while away
                break

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None
