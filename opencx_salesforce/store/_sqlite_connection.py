"""The SQLite store's one connection, shared by every coroutine of the store.

Group commit
    Every write is a *unit*: one statement, or a few that must be atomic
    (``lease``'s read-then-update). Units that arrive while a commit is in
    progress wait for it and then go together in one transaction, so one fsync
    makes many durable. Each unit keeps what it had alone:

    * atomicity and isolation from the other units: each runs inside its own
      ``SAVEPOINT``, and one that fails is rolled back to it (``ROLLBACK TO``),
      which undoes only its own statements; the others commit and get their
      results, the failing one gets its exception. A one-statement unit needs
      no savepoint: SQLite undoes a failed statement itself and the
      transaction goes on (a failure that ends the transaction fails the
      batch);
    * durability: a unit's caller gets its result only after the ``COMMIT``
      that holds it returned (``synchronous=FULL``: after its fsync), and every
      unit of a batch whose ``COMMIT`` failed gets that error;
    * no added wait when alone: a unit that finds no commit in progress starts
      at once, and a batch of one runs as it would alone (one statement, its
      own transaction; no ``BEGIN`` and ``SAVEPOINT``).

    A batch holds the write lock from ``BEGIN IMMEDIATE`` to ``COMMIT``, as any
    transaction would, so other processes sharing the file see each unit whole.
    Reads go to a second connection on the file (WAL: it reads the last
    committed state, without waiting for a batch's fsync), or, for a private
    ``:memory:`` database, take the one connection between batches: a reader
    never sees a write before it is durable.

One call to the connection's thread a batch
    A batch goes to the connection's thread as one piece of work (``BEGIN``,
    every unit, ``COMMIT``), so units are plain functions of a ``sqlite3``
    connection, run on that thread (:mod:`._sqlite_thread`): a batch of fifty
    writes costs two thread switches, not a hundred and fifty.

Sharing the file with other processes
    An operation that finds another process holding the write lock is tried
    again in short jittered pauses until ``busy_timeout`` (then
    ``sqlite3.OperationalError`` is raised); see :func:`._sqlite_thread.patiently`.
"""

from __future__ import annotations

import asyncio
import functools
import sqlite3
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from opencx_salesforce.store._sqlite_thread import SQLiteThread, patiently

_T = TypeVar("_T")

# A unit of work: statements on the connection (on its thread), atomic together.
Unit = Callable[[sqlite3.Connection], _T]
# What a unit gave: (True, its result) or (False, its exception).
_Outcome = tuple[bool, Any]

# Enough to amortise a commit, few enough that one batch's savepoints stay cheap.
MAX_BATCH = 256


@dataclass
class _Pending(Generic[_T]):
    unit: Unit[_T]
    done: asyncio.Future[_T]
    bare: bool  # one statement: alone, it needs no BEGIN/COMMIT of its own


class SQLiteConnection:
    """Write units and reads on one database: a writing connection, and for a
    file a second one that reads (see :meth:`open`)."""

    def __init__(
        self, writer: SQLiteThread, reader: SQLiteThread | None, *, busy_timeout: float
    ) -> None:
        self._writer = writer
        self._reader = reader
        self._busy_timeout = busy_timeout
        self._queue: list[_Pending[Any]] = []
        self._committing = False  # a batch is on the writer's thread
        self._idle = asyncio.Event()  # no batch on the thread, none queued
        self._idle.set()
        # Transactions committed (a lone statement counts as one): tests check
        # that concurrent writes share them.
        self.commits = 0

    @classmethod
    async def open(cls, database: str, *, busy_timeout: float) -> SQLiteConnection:
        """Connections to ``database``. A file gets a second connection for reads:
        in WAL mode it reads the last committed state while a batch commits,
        where a read on the writing connection would wait for the batch's fsync.
        A private ``:memory:`` database has one (a second would be another
        database); its reads take the thread between batches, so they too never
        see a write before it is committed."""
        writer = SQLiteThread(database, name="sqlite writer")
        await writer.start()
        return cls(writer, None, busy_timeout=busy_timeout)

    async def read_from_second_connection(self, database: str) -> None:
        """Send reads to a connection of their own (call once WAL mode is on)."""
        reader = SQLiteThread(database, name="sqlite reader")
        await reader.start()
        self._reader = reader

    # --- writes ----------------------------------------------------------------
    async def write(self, unit: Unit[_T], *, one_statement: bool = False) -> _T:
        """Run ``unit`` atomically and durably, in a commit it may share with
        the units of other callers (see the module docstring).
        ``one_statement``: the unit is a single statement.

        A caller cancelled before its batch starts writes nothing; once the
        batch has started, its unit is written with the others (as with any
        statement in flight) and the caller does not hear of it."""
        done: asyncio.Future[_T] = asyncio.get_running_loop().create_future()
        self._queue.append(_Pending(unit, done, one_statement))
        if not self._committing:
            self._commit_next()
        return await done

    async def run(self, sql: str, params: Sequence[Any] | dict[str, Any]) -> int:
        """One statement as a write unit; rows changed."""

        def unit(db: sqlite3.Connection) -> int:
            return db.execute(sql, params).rowcount

        return await self.write(unit, one_statement=True)

    def _commit_next(self) -> None:
        """Hand the queued units to the writer's thread as one batch. Driven by
        callbacks, not a task: a write that finds the line free is on its way
        to the thread before its caller even yields, and the next batch leaves
        in the same wake of the loop that settles the last one."""
        batch = [p for p in self._queue[:MAX_BATCH] if not p.done.cancelled()]
        del self._queue[:MAX_BATCH]
        if not batch:
            if self._queue:
                self._commit_next()
            else:
                self._idle.set()
            return
        self._committing = True
        self._idle.clear()
        units = [(p.unit, p.bare) for p in batch]
        self._writer.submit(
            functools.partial(_commit, units=units, busy_timeout=self._busy_timeout),
            functools.partial(self._committed, batch),
        )

    def _committed(self, batch: list[_Pending[Any]], ok: bool, value: Any) -> None:
        """On the loop, once the batch is done: settle its callers, send the next."""
        self._committing = False
        if ok:
            self.commits += 1
            for pending, outcome in zip(batch, value, strict=True):
                _settle(pending, outcome)
        else:  # the batch failed as a whole
            for pending in batch:
                _settle(pending, (False, value))
        self._commit_next()

    # --- reads -----------------------------------------------------------------
    async def rows(self, sql: str, params: Sequence[Any] | dict[str, Any]) -> list[Any]:
        """A read of committed data only (never a write before it is durable)."""
        busy_timeout = self._busy_timeout

        def read(db: sqlite3.Connection) -> list[Any]:
            return patiently(lambda: db.execute(sql, params).fetchall(), busy_timeout)

        return await (self._reader or self._writer).call(read)

    async def close(self) -> None:
        await self._idle.wait()  # the writes already handed over land
        if self._reader is not None:
            await self._reader.close()
        await self._writer.close()


# --- on the connection's thread ---------------------------------------------------
def _commit(
    db: sqlite3.Connection, *, units: list[tuple[Unit[Any], bool]], busy_timeout: float
) -> list[_Outcome]:
    """One batch: its units' outcomes once committed. Raises when the batch
    failed as a whole (then nothing of it was written)."""
    if len(units) == 1 and units[0][1]:
        # One statement alone: SQLite makes it its own transaction.
        unit = units[0][0]
        try:
            return [(True, patiently(lambda: unit(db), busy_timeout))]
        except Exception as exc:
            return [(False, exc)]
    # BEGIN IMMEDIATE: the write lock is held from the first statement, so
    # nothing a unit reads can change under it.
    patiently(lambda: db.execute("BEGIN IMMEDIATE"), busy_timeout)
    try:
        outcomes = [_unit(db, n, unit, bare) for n, (unit, bare) in enumerate(units)]
        patiently(lambda: db.execute("COMMIT"), busy_timeout)
    except BaseException:
        if db.in_transaction:
            db.execute("ROLLBACK")
        raise
    return outcomes


def _unit(db: sqlite3.Connection, n: int, unit: Unit[Any], bare: bool) -> _Outcome:
    """A unit inside the batch's transaction. A one-statement unit needs no
    savepoint: a statement that fails is undone by SQLite itself and the
    transaction goes on (a constraint, say); a failure that ended the
    transaction (I/O, a full disk) is raised: the whole batch fails. A unit of
    several statements runs in its own savepoint, rolled back to on failure."""
    if bare:
        try:
            return True, unit(db)
        except Exception as exc:
            if not db.in_transaction:
                raise
            return False, exc
    db.execute(f"SAVEPOINT unit{n}")
    try:
        return True, unit(db)
    except Exception as exc:
        # Undo this unit's statements only; the others stand.
        db.execute(f"ROLLBACK TO unit{n}")
        return False, exc


# --- on the loop ------------------------------------------------------------------
def _settle(pending: _Pending[Any], outcome: _Outcome) -> None:
    ok, value = outcome
    if pending.done.done():
        return
    if ok:
        pending.done.set_result(value)
    else:
        pending.done.set_exception(value)
        # Retrieved even if its caller is cancelled before it resumes: not
        # "never retrieved". (Only here: a callback on every write would be one
        # more turn of the loop each.)
        pending.done.add_done_callback(_retrieve)


def _retrieve(done: asyncio.Future[Any]) -> None:
    if not done.cancelled():
        done.exception()
