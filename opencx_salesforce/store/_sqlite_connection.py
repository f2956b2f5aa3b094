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
    * next to no added wait when alone: a unit that finds no commit in
      progress starts at the loop's next turn, and a batch of one runs as it
      would alone (one statement, its own transaction; no ``BEGIN`` and
      ``SAVEPOINT``).

    A batch holds the write lock from ``BEGIN IMMEDIATE`` to ``COMMIT``, as any
    transaction would, so other processes sharing the file see each unit whole.
    Reads take the writing connection between batches (its page cache is
    warm), and a second connection on the file while a batch commits (WAL: it
    reads the last committed state, without waiting for the batch's fsync); a
    private ``:memory:`` database has only the one. A reader never sees a
    write before it is durable.

Where the work runs
    While commits are quick (a fraction of a millisecond on a local disk, the
    fsync included), the event loop runs each batch itself, and each read: the
    units that arrived during one turn of the loop go as one batch at the start
    of the next, so a lone write waits one turn, no more. Once commits run slow
    (:mod:`._sqlite_pace`), or a checkpoint is due, the batch is split: the
    loop runs ``BEGIN`` and the units' statements, quick work on pages in
    memory, and hands the ``COMMIT`` (the WAL's writes and their fsync) to the
    writer's thread; the loop runs on meanwhile, and units that arrive wait for
    that commit and go together in the next batch. A statement alone is its
    own commit and goes to the thread whole; so do whole batches (``BEGIN``,
    every unit, ``COMMIT`` as one piece of work) once statements run slow
    themselves (they wait for the disk to read a page).
    A unit run on the thread gives up the GIL in every statement and waits for
    it back after each while the loop is busy, which costs more CPU than the
    statements: at 0 ms round trip and 100 concurrent handoffs, where the
    batches (about fifty units) had gone to the thread whole, the writer's
    thread took 0.37-0.40 ms of CPU a handoff, 0.09-0.13 with the split, and the
    process 1.31-1.44 ms against 1.12-1.25 (``bench/profile_notes.md``,
    session 17).
    Reads follow their own pace to the reader's thread the same way. Units are
    plain functions of a ``sqlite3`` connection, so either place runs them
    (:mod:`._sqlite_thread`).

    The loop never waits for a lock or a checkpoint:

    * a batch (or read) that finds another process holding the lock it needs
      (``SQLITE_BUSY``) is rolled back, if it had begun, and handed to the
      thread, which waits for the lock there (see below) and runs it whole;
    * the writer's WAL checkpoints, which SQLite would run inside a ``COMMIT``,
      run on the writer's thread right after the batch that falls due
      (:mod:`._sqlite_checkpoints`).

Sharing the file with other processes
    An operation that finds another process holding the write lock is tried
    again on the thread in short jittered pauses until ``busy_timeout`` (then
    ``sqlite3.OperationalError`` is raised); see :func:`._sqlite_thread.patiently`.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import sqlite3
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from opencx_salesforce.store._sqlite_checkpoints import CheckpointSchedule, limit_wal_file
from opencx_salesforce.store._sqlite_pace import LOOP_LIMIT, Pace
from opencx_salesforce.store._sqlite_thread import SQLiteThread, is_busy, patiently

log = logging.getLogger(__name__)

_T = TypeVar("_T")

# A unit of work: statements on the connection, atomic together.
Unit = Callable[[sqlite3.Connection], _T]
# What a unit gave: (True, its result) or (False, its exception).
_Outcome = tuple[bool, Any]
# How an operation that may find the lock taken is attempted.
_Wait = Callable[[Callable[[], _T]], _T]

# Enough to amortise a commit, few enough that one batch's savepoints stay cheap.
MAX_BATCH = 256
# A batch's statements run on the loop while each takes under this share of
# the loop's limit, on average (0.1 ms for 1 ms): a statement on pages in memory
# takes microseconds; one that takes a tenth of a millisecond reads the disk.
STATEMENT_SHARE_OF_LIMIT = 0.1


@dataclass
class _Pending(Generic[_T]):
    unit: Unit[_T]
    done: asyncio.Future[_T]
    bare: bool  # one statement: alone, it needs no BEGIN/COMMIT of its own
    last: bool  # runs after the batch's other units


@dataclass
class _Committed:
    """What a batch gave, once committed."""

    outcomes: list[_Outcome]
    seconds: float  # the COMMIT's (a lone statement's) own time: its fsync's (on the loop)
    wal_pages: int | None  # the WAL's size when the batch checkpointed, if it did


class _LockTaken(Exception):
    """On the loop: another connection holds the lock; nothing was written."""


class SQLiteConnection:
    """Write units and reads on one database: a writing connection, and for a
    file a second one that reads (see :meth:`open`)."""

    def __init__(
        self,
        writer: SQLiteThread,
        reader: SQLiteThread | None,
        *,
        busy_timeout: float,
        loop_limit: float = LOOP_LIMIT,
        statement_limit: float | None = None,
    ) -> None:
        self._writer = writer
        self._reader = reader
        self._busy_timeout = busy_timeout
        self._queue: list[_Pending[Any]] = []
        self._scheduled = False  # a batch will start at the loop's next turn
        self._committing = False  # a batch is on the writer's thread
        self._idle = asyncio.Event()  # no batch on the thread, none queued
        self._idle.set()
        self._commit_pace = Pace(loop_limit)
        self._statement_pace = Pace(
            loop_limit * STATEMENT_SHARE_OF_LIMIT if statement_limit is None else statement_limit
        )
        self._read_pace = Pace(loop_limit)
        self._checkpoints: CheckpointSchedule | None = None  # a file's, once attached
        # Transactions committed (a lone statement counts as one): tests check
        # that concurrent writes share them.
        self.commits = 0

    @classmethod
    async def open(
        cls,
        database: str,
        *,
        busy_timeout: float,
        loop_limit: float = LOOP_LIMIT,
        statement_limit: float | None = None,
    ) -> SQLiteConnection:
        """The writing connection to ``database``. A file then gets a second
        connection for reads (:meth:`attach_file`): in WAL mode it reads the
        last committed state while a batch commits. A private ``:memory:``
        database has one (a second would be another database); its reads use
        it between batches, so they too never see a write before it is
        committed."""
        writer = SQLiteThread(database, name="sqlite writer")
        await writer.start()
        return cls(
            writer,
            None,
            busy_timeout=busy_timeout,
            loop_limit=loop_limit,
            statement_limit=statement_limit,
        )

    async def attach_file(self, database: str) -> None:
        """For a file in WAL mode: reads get a connection of their own, and the
        writer's checkpoints are taken off its commits (see
        :mod:`._sqlite_checkpoints`)."""
        await self.run("PRAGMA wal_autocheckpoint = 0", ())
        page_size = await self._writer.call(limit_wal_file)
        self._checkpoints = CheckpointSchedule(database + "-wal", page_size)
        reader = SQLiteThread(database, name="sqlite reader")
        await reader.start()
        self._reader = reader

    @property
    def checkpoints(self) -> int:
        """WAL checkpoints run so far (tests count them)."""
        return 0 if self._checkpoints is None else self._checkpoints.checkpoints

    # --- writes ----------------------------------------------------------------
    async def write(self, unit: Unit[_T], *, one_statement: bool = False, last: bool = False) -> _T:
        """Run ``unit`` atomically and durably, in a commit it may share with
        the units of other callers (see the module docstring).
        ``one_statement``: the unit is a single statement. ``last``: it runs
        after the batch's other units (a lease: it takes the items they add,
        where running first it would find none and a worker would look again).
        Units of one batch are concurrent calls, so any order is one they
        could have had.

        A caller cancelled before its batch starts writes nothing; once the
        batch has started, its unit is written with the others (as with any
        statement in flight) and the caller does not hear of it."""
        loop = asyncio.get_running_loop()
        done: asyncio.Future[_T] = loop.create_future()
        self._queue.append(_Pending(unit, done, one_statement, last))
        if not (self._committing or self._scheduled):
            self._schedule(loop)
        return await done

    async def run(self, sql: str, params: Sequence[Any] | dict[str, Any]) -> int:
        """One statement as a write unit; rows changed."""

        def unit(db: sqlite3.Connection) -> int:
            return db.execute(sql, params).rowcount

        return await self.write(unit, one_statement=True)

    def _schedule(self, loop: asyncio.AbstractEventLoop) -> None:
        """The next batch starts at the loop's next turn: every unit written
        until then goes in it."""
        self._scheduled = True
        self._idle.clear()
        loop.call_soon(self._commit_next)

    def _commit_next(self) -> None:
        """Commit the queued units as one batch: on the loop while commits are
        quick, else on the writer's thread. Driven by callbacks, not a task."""
        self._scheduled = False
        batch = [p for p in self._queue[:MAX_BATCH] if not p.done.cancelled()]
        del self._queue[:MAX_BATCH]
        if not batch:
            if self._queue:
                self._commit_next()
            else:
                self._idle.set()
            return
        batch.sort(key=_runs_last)  # stable: otherwise in the order they came
        units = [(p.unit, p.bare) for p in batch]
        checkpoint = self._checkpoints is not None and self._checkpoints.due
        if self._writer.idle:
            if not checkpoint and self._commit_pace.on_loop:
                if self._commit_on_loop(batch, units):
                    return
            elif (
                not _alone(units)  # its own commit: nothing to split
                and self._statement_pace.on_loop
                and self._statements_on_loop(batch, units, checkpoint)
            ):
                return
        # Slow statements, one alone, or the lock taken: the whole batch on the
        # writer's thread.
        self._on_writer(batch, functools.partial(_commit, units=units, checkpoint=checkpoint))

    def _on_writer(self, batch: list[_Pending[Any]], work: Callable[..., _Committed]) -> None:
        """Run ``work(connection, wait=…)`` on the writer's thread, waiting there
        for a lock another process holds, and settle the batch with what it gives."""
        self._committing = True
        wait = functools.partial(patiently, busy_timeout=self._busy_timeout)
        self._writer.submit(
            functools.partial(work, wait=wait), functools.partial(self._committed, batch)
        )

    def _statements_on_loop(
        self, batch: list[_Pending[Any]], units: list[tuple[Unit[Any], bool]], checkpoint: bool
    ) -> bool:
        """Run the batch's statements here and hand its ``COMMIT`` (and the
        checkpoint, if due) to the writer's thread; False when another
        connection holds the lock (nothing of the batch was written)."""
        db = self._writer.connection
        started = time.perf_counter()
        try:
            outcomes = _statements(db, units, _at_once)
        except _LockTaken:
            return False
        except Exception as exc:
            self._committed(batch, False, exc)
            return True
        if self._statement_pace.took((time.perf_counter() - started) / len(units)):
            _moved("statements", self._statement_pace)
        self._on_writer(batch, functools.partial(_finish, outcomes=outcomes, checkpoint=checkpoint))
        return True

    def _commit_on_loop(
        self, batch: list[_Pending[Any]], units: list[tuple[Unit[Any], bool]]
    ) -> bool:
        """Commit the batch here and settle it; False when another connection
        holds the lock (the batch was rolled back, nothing of it written)."""
        try:
            committed = _commit(self._writer.connection, units=units, wait=_at_once)
        except _LockTaken:
            return False
        except Exception as exc:
            self._committed(batch, False, exc)
            return True
        if self._commit_pace.took(committed.seconds):
            _moved("commits", self._commit_pace)
        self._committed(batch, True, committed)
        return True

    def _committed(self, batch: list[_Pending[Any]], ok: bool, value: Any) -> None:
        """On the loop, once the batch is done: settle its callers; the units
        that queued meanwhile go at the next turn, with those the settled
        callers write on waking."""
        self._committing = False
        if ok:
            committed: _Committed = value
            self.commits += 1
            if self._checkpoints is not None:
                self._checkpoints.committed()
                if committed.wal_pages is not None:
                    self._checkpoints.checkpointed(committed.wal_pages)
            for pending, outcome in zip(batch, committed.outcomes, strict=True):
                _settle(pending, outcome)
        else:  # the batch failed as a whole
            for pending in batch:
                _settle(pending, (False, value))
        if self._queue:
            self._schedule(asyncio.get_running_loop())
        else:
            self._idle.set()

    # --- reads -----------------------------------------------------------------
    async def rows(self, sql: str, params: Sequence[Any] | dict[str, Any]) -> list[Any]:
        """A read of committed data only (never a write before it is durable)."""

        def fetch(db: sqlite3.Connection) -> list[Any]:
            return db.execute(sql, params).fetchall()

        if self._read_pace.on_loop:
            # Between batches, the writing connection: its page cache is warm.
            # The reader's is emptied whenever the WAL changed since its last
            # read (SQLite's pager.c, pagerBeginReadTransaction: pager_reset),
            # which under load is every read, so it read every page of the
            # tree again: 47-71 against 30-41 µs a read of a 4.8 kB session
            # (profile_notes.md, session 20). The writer has no transaction
            # open here: it too reads only committed data. The reader serves
            # while a batch commits on the writer's thread.
            for thread in (self._writer, self._reader):
                if thread is not None and thread.idle and not thread.connection.in_transaction:
                    rows = self._read_on_loop(thread.connection, fetch)
                    if rows is not None:
                        return rows
                    break
        # A file's reader reads beside a batch on the writer's thread (WAL);
        # :memory:'s one connection only between batches (the thread is busy).
        thread = self._reader or self._writer
        busy_timeout = self._busy_timeout
        return await thread.call(lambda db: patiently(lambda: fetch(db), busy_timeout))

    def _read_on_loop(self, db: sqlite3.Connection, fetch: Unit[list[Any]]) -> list[Any] | None:
        """``fetch`` run here; None when another connection holds the lock it
        needs (then the reader's thread waits for it)."""
        try:
            rows, seconds = _at_once(lambda: _timed(fetch, db))
        except _LockTaken:
            return None
        if self._read_pace.took(seconds):
            _moved("reads", self._read_pace)
        return rows

    async def close(self) -> None:
        await self._idle.wait()  # the writes already handed over land
        if self._reader is not None:
            await self._reader.close()
        await self._writer.close()


def _runs_last(pending: _Pending[Any]) -> bool:
    return pending.last


def _moved(work: str, pace: Pace) -> None:
    where = "the event loop" if pace.quick else "the store's threads"
    line = f"SQLite {work} took {1000 * pace.average:.2f} ms on average: they run on {where}"
    report = pace.reports.due()
    if report is None:  # a pace moving back and forth: one INFO line in a while
        log.debug("%s from now on", line)
        return
    moves, seconds = report
    if moves == 1:
        log.info("%s from now on", line)
    else:
        log.info(
            "%s from now on (they moved %d times in the last %.0f minutes: their time sits "
            "near the %.1f ms limit; each move is logged at DEBUG)",
            line,
            moves,
            seconds / 60,
            1000 * pace.limit,
        )


# --- wherever the batch runs: the loop or the writer's thread ---------------------
def _at_once(attempt: Callable[[], _T]) -> _T:
    """On the loop: ``attempt()``, or :class:`_LockTaken` if the lock is taken."""
    try:
        return attempt()
    except sqlite3.OperationalError as exc:
        if is_busy(exc):
            raise _LockTaken from exc
        raise


def _commit(
    db: sqlite3.Connection,
    *,
    units: list[tuple[Unit[Any], bool]],
    wait: _Wait[Any],
    checkpoint: bool = False,
) -> _Committed:
    """One batch: its units' outcomes once committed. Raises when the batch
    failed as a whole (then nothing of it was written). ``checkpoint``: then
    checkpoint the WAL (on the writer's thread only)."""
    if _alone(units):
        # One statement alone: SQLite makes it its own transaction.
        unit = units[0][0]
        try:
            result, seconds = wait(lambda: _timed(unit, db))
            outcomes: list[_Outcome] = [(True, result)]
        except _LockTaken:
            raise
        except Exception as exc:
            outcomes, seconds = [(False, exc)], 0.0
        return _Committed(outcomes, seconds, _checkpoint(db) if checkpoint else None)
    outcomes = _statements(db, units, wait)
    return _finish(db, outcomes=outcomes, wait=wait, checkpoint=checkpoint)


def _alone(units: list[tuple[Unit[Any], bool]]) -> bool:
    """One statement alone: its own transaction, needing no BEGIN or COMMIT."""
    return len(units) == 1 and units[0][1]


def _statements(
    db: sqlite3.Connection, units: list[tuple[Unit[Any], bool]], wait: _Wait[Any]
) -> list[_Outcome]:
    """A batch up to its ``COMMIT``: ``BEGIN`` and its units' outcomes, the
    transaction left open. Raises (nothing written, no transaction left open)
    when the batch failed as a whole."""
    # BEGIN IMMEDIATE: the write lock is held from the first statement, so
    # nothing a unit reads can change under it.
    wait(lambda: db.execute("BEGIN IMMEDIATE"))
    try:
        return [_unit(db, n, unit, bare) for n, (unit, bare) in enumerate(units)]
    except BaseException:
        if db.in_transaction:
            db.execute("ROLLBACK")
        raise


def _finish(
    db: sqlite3.Connection, *, outcomes: list[_Outcome], wait: _Wait[Any], checkpoint: bool
) -> _Committed:
    """Commit the open transaction of a batch whose units gave ``outcomes``;
    then checkpoint the WAL if ``checkpoint`` (on the writer's thread only).
    Raises (the transaction rolled back) when the ``COMMIT`` failed."""
    try:
        _, seconds = wait(lambda: _timed(_commit_transaction, db))
    except BaseException:
        if db.in_transaction:
            db.execute("ROLLBACK")
        raise
    return _Committed(outcomes, seconds, _checkpoint(db) if checkpoint else None)


def _commit_transaction(db: sqlite3.Connection) -> None:
    db.execute("COMMIT")


def _timed(work: Unit[_T], db: sqlite3.Connection) -> tuple[_T, float]:
    """``work(db)`` and how long it took: one attempt's time, not the waits
    for a lock between attempts (the disk's pace, not another process's)."""
    started = time.perf_counter()
    result = work(db)
    return result, time.perf_counter() - started


def _checkpoint(db: sqlite3.Connection) -> int | None:
    """Checkpoint the WAL; its size in pages. The batch is committed whatever
    this does: a checkpoint that fails is tried again at the next one due."""
    try:
        row = db.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
    except sqlite3.Error:
        return None
    return int(row[1]) if row else None


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
