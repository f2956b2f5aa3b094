"""One SQLite connection and a thread that can use it, for the event loop.

SQLite's calls block (a commit waits for its fsync), so when they are slow they
run on a thread of their own; when they are quick the event loop runs them
itself on the same connection (:attr:`SQLiteThread.connection`, while the
thread is :attr:`~SQLiteThread.idle`), see :mod:`._sqlite_connection`.
What makes the thread cheaper than a thread hop per statement: a call is a
whole piece of work (a group commit's batch: ``BEGIN``, every unit, ``COMMIT``),
and the calls that queue up while the thread is busy run in one wake of the
thread and come back in one wake of the event loop (one
``call_soon_threadsafe`` for all of them). Under load a handoff's twenty store
operations so cost a few thread switches between them, not sixty; the thread
releases the GIL while SQLite works, so the loop keeps running meanwhile.

The connection is opened on the thread. It is used by one thread at a time:
the thread while a call is queued or running, the loop only when none is
(``check_same_thread`` is off for that hand-over alone). Nothing here logs a
statement or its parameters: the store holds tokens and secrets.

Waiting for a lock another process holds (``SQLITE_BUSY``) is done here, on the
thread, in short jittered naps (:func:`patiently`): SQLite's own busy handler
(off: ``timeout=0``) backs off to 100 ms naps, so under contention the lock
would sit free while everyone sleeps (50 connections leasing 120 items: 4.1 s
with it, 0.7 s with short naps). The loop does not wait meanwhile; other work
queues behind the thread and goes in its next wake.
"""

from __future__ import annotations

import asyncio
import functools
import queue
import random
import sqlite3
import threading
import time
from collections.abc import Callable
from typing import Any, TypeVar

_T = TypeVar("_T")

# What the thread runs: a function of the connection.
Work = Callable[[sqlite3.Connection], _T]
# What to run on the loop with the outcome, and the work; None stops the thread.
_Then = Callable[[bool, Any], None]
_Call = tuple[_Then, Work[Any]]


def is_busy(exc: sqlite3.Error) -> bool:
    """Whether ``exc`` is SQLITE_BUSY (any extended code): another connection
    holds a lock that this operation needs."""
    return getattr(exc, "sqlite_errorcode", 0) & 0xFF == sqlite3.SQLITE_BUSY


def patiently(attempt: Callable[[], _T], busy_timeout: float) -> _T:
    """``attempt()``, again after a short jittered nap while another connection
    holds the lock, until ``busy_timeout`` seconds have passed (then SQLite's
    ``OperationalError`` is raised). Call it on the connection's thread."""
    deadline = time.monotonic() + busy_timeout
    pause = 0.0005
    while True:
        try:
            return attempt()
        except sqlite3.OperationalError as exc:
            if not is_busy(exc) or time.monotonic() >= deadline:
                raise
        time.sleep(random.uniform(0, pause))
        pause = min(pause * 2, 0.01)


class SQLiteThread:
    """A connection on its own thread; :meth:`call` runs work there."""

    def __init__(self, database: str, *, name: str) -> None:
        self._database = database
        self._name = name
        self._calls: queue.SimpleQueue[_Call | None] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._db: sqlite3.Connection | None = None
        self._in_flight = 0  # calls submitted and not yet settled (counted on the loop)

    async def start(self) -> None:
        """Open the connection (on the thread): raises what opening raised."""
        self._loop = asyncio.get_running_loop()
        opened: asyncio.Future[None] = self._loop.create_future()
        self._thread = threading.Thread(
            target=self._serve, args=(opened,), name=self._name, daemon=True
        )
        self._thread.start()
        await opened

    @property
    def connection(self) -> sqlite3.Connection:
        """The connection, for the loop to use itself: only while :attr:`idle`,
        and only from the loop (the thread may take it back at the next
        :meth:`submit`)."""
        assert self._db is not None, "start() first"
        return self._db

    @property
    def idle(self) -> bool:
        """No call is queued for the thread or running there."""
        return self._in_flight == 0

    def submit(self, work: Work[_T], then: Callable[[bool, Any], None]) -> None:
        """Queue ``work(connection)`` for the thread; ``then(True, result)`` or
        ``then(False, exception)`` runs on the loop once it is done."""
        self._in_flight += 1
        self._calls.put((then, work))

    async def call(self, work: Work[_T]) -> _T:
        """``work(connection)`` on the thread. Not cancellable once queued (it
        runs whatever the caller does; its result is then dropped)."""
        assert self._loop is not None, "start() first"
        done: asyncio.Future[_T] = self._loop.create_future()
        self.submit(work, functools.partial(_resolve, done))
        return await done

    async def close(self) -> None:
        """Finish the queued work, close the connection, end the thread."""
        if self._thread is None:
            return
        self._calls.put(None)
        thread, self._thread = self._thread, None
        await asyncio.get_running_loop().run_in_executor(None, thread.join)

    # --- on the thread ------------------------------------------------------------
    def _serve(self, opened: asyncio.Future[None]) -> None:
        loop = self._loop
        assert loop is not None
        try:
            # isolation_level=None: no implicit transactions, the caller says when.
            # timeout=0: SQLite's busy handler is off, see patiently.
            # check_same_thread=False: the loop uses it too, never at once (see above).
            db = sqlite3.connect(
                self._database, isolation_level=None, timeout=0, check_same_thread=False
            )
        except BaseException as exc:  # handed to the opener
            loop.call_soon_threadsafe(_resolve, opened, False, exc)
            return
        self._db = db
        loop.call_soon_threadsafe(_resolve, opened, True, None)
        try:
            running = True
            while running:
                calls = [self._calls.get()]
                while True:  # everything queued meanwhile goes in this wake
                    try:
                        calls.append(self._calls.get_nowait())
                    except queue.Empty:
                        break
                outcomes: list[tuple[_Then, bool, Any]] = []
                for call in calls:
                    if call is None:
                        running = False
                        continue
                    then, work = call
                    try:
                        outcomes.append((then, True, work(db)))
                    except BaseException as exc:  # handed to the caller
                        outcomes.append((then, False, exc))
                if outcomes:
                    try:
                        loop.call_soon_threadsafe(self._settle, outcomes)
                    except RuntimeError:  # the loop is closed: nobody waits any more
                        return
        finally:
            db.close()

    def _settle(self, outcomes: list[tuple[_Then, bool, Any]]) -> None:
        """On the loop: hand each call its result or its error."""
        self._in_flight -= len(outcomes)
        for then, ok, value in outcomes:
            then(ok, value)


def _resolve(done: asyncio.Future[Any], ok: bool, value: Any) -> None:
    if done.done():  # its caller was cancelled
        return
    if ok:
        done.set_result(value)
    else:
        done.set_exception(value)
