"""The embedded store: one SQLite file, shareable by several processes.

URL to file
    ``sqlite:///`` followed by a path, as SQLAlchemy spells it: whatever follows the
    third slash is handed to SQLite unchanged, so

    * ``sqlite:///relative.db`` is ``relative.db`` in the current directory,
    * ``sqlite:////abs/path.db`` (four slashes) is ``/abs/path.db``,
    * ``sqlite:///:memory:`` is a private in-memory database (gone on ``close``,
      not shared with any other store).

Sharing the file
    The database runs in WAL mode (readers never block the writer), and an
    operation that finds the write lock taken waits for it (``busy_timeout``,
    10 s by default) instead of failing; the waiting is done on the event loop
    in short jittered pauses rather than by SQLite's own busy handler (see
    ``_patiently``), and ``sqlite3.OperationalError`` is raised past it.
    Conditional writes (``set_if_absent``, ``compare_and_set``, ``ack``, …) are
    single statements: SQLite takes the write lock before it reads the row it
    compares, so the check and the write are one atomic step. ``lease``, which
    reads the due items and then updates them, runs in ``BEGIN IMMEDIATE`` so
    two processes can never pick the same item. ``synchronous=FULL``: once
    ``enqueue`` returns, the item survives a power cut.

Waking workers
    ``wait`` is woken at once by work added through this store object. Another
    process (or another store object on the same file) cannot signal it, so
    ``wait`` also re-reads the queue's next due time every ``poll_interval``
    seconds (0.1 s by default): one indexed query, and a wake-up from another
    process is at most that late.

Expired keys read as absent at once and their rows are deleted lazily: by a
write that replaces them, and by a sweep of the whole table at most every
``purge_interval`` seconds, run on a write.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import sqlite3
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from typing import Any, TypeVar

import aiosqlite

from opencx_salesforce.store._rules import (
    check_delay,
    check_lease,
    check_ttl,
    new_token,
    visible_state,
)
from opencx_salesforce.store._wakeup import Wakeups, wait_until_due
from opencx_salesforce.store.base import ItemState, Lease, QueueItem


class _WithoutParameters(logging.Filter):
    """aiosqlite logs every call at DEBUG with its arguments, and those are the
    statement's parameters: webhook tokens, CSRF keys, encrypted secrets. Keep the
    record (it still shows the store is busy), drop what it carries."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.msg in ("executing %s", "operation %s completed"):
            record.msg = record.msg.replace("%s", "a statement (parameters not logged)")
            record.args = ()
        elif record.msg == "returning exception %s" and record.args:
            error = record.args[0] if isinstance(record.args, tuple) else record.args
            record.msg, record.args = "returning exception %s", (type(error).__name__,)
        return True


_AIOSQLITE_LOG = logging.getLogger("aiosqlite")
if not any(isinstance(f, _WithoutParameters) for f in _AIOSQLITE_LOG.filters):
    _AIOSQLITE_LOG.addFilter(_WithoutParameters())

SCHEMA_VERSION = 1

_T = TypeVar("_T")

_SCHEMA = (
    """
    CREATE TABLE IF NOT EXISTS kv (
        ns TEXT NOT NULL,
        key TEXT NOT NULL,
        value BLOB NOT NULL,
        expires_at REAL,  -- unix seconds; NULL: never
        PRIMARY KEY (ns, key)
    ) WITHOUT ROWID
    """,
    "CREATE INDEX IF NOT EXISTS kv_expiry ON kv (expires_at) WHERE expires_at IS NOT NULL",
    """
    CREATE TABLE IF NOT EXISTS queue_items (
        seq INTEGER PRIMARY KEY,  -- insertion order: breaks ties between equal times
        queue TEXT NOT NULL,
        item_id TEXT NOT NULL,
        payload BLOB NOT NULL,
        state TEXT NOT NULL,  -- an ItemState value
        attempts INTEGER NOT NULL,
        available_at REAL NOT NULL,  -- for a leased item: its lease deadline
        enqueued_at REAL NOT NULL,
        lease_token TEXT,  -- set only while leased
        last_error TEXT,
        UNIQUE (queue, item_id)
    )
    """,
    # Leasing and "when is the next item due" read this index, never the dead items.
    """
    CREATE INDEX IF NOT EXISTS queue_due
        ON queue_items (queue, available_at, seq) WHERE state != 'dead'
    """,
)

_LIVE = "(expires_at IS NULL OR expires_at > :now)"
# The item is still held by this lease (see _held for the parameters).
_HELD = "queue = :queue AND item_id = :item_id AND state = 'leased' AND lease_token = :token"


def _held(lease: Lease) -> dict[str, Any]:
    return {"queue": lease.queue, "item_id": lease.item_id, "token": lease.token}


def database_from_url(url: str) -> str:
    """The path (or ``:memory:``) SQLite should open for ``url``; see the module
    docstring for how the slashes map."""
    scheme, separator, rest = url.partition("://")
    if scheme.lower() != "sqlite" or not separator or not rest.startswith("/") or rest == "/":
        raise ValueError(
            f"bad SQLite store URL {url!r}: expected sqlite:///relative.db, "
            "sqlite:////absolute/path.db or sqlite:///:memory:"
        )
    return rest[1:]


class SQLiteStore:
    """A :class:`~opencx_salesforce.store.base.Store` in one SQLite file. Open it
    with :meth:`open`."""

    def __init__(
        self,
        db: aiosqlite.Connection,
        *,
        database: str,
        busy_timeout: float,
        poll_interval: float,
        purge_interval: float,
    ) -> None:
        self._db = db
        self.database = database
        self._busy_timeout = busy_timeout
        self._poll_interval = poll_interval
        self._purge_interval = purge_interval
        self._last_purge = 0.0
        # One connection serves every coroutine of this store: the lock keeps one
        # coroutine's transaction from swallowing another's statements.
        self._lock = asyncio.Lock()
        self._wakeups = Wakeups()

    @classmethod
    async def open(
        cls,
        url: str,
        *,
        busy_timeout: float = 10.0,
        poll_interval: float = 0.1,
        purge_interval: float = 60.0,
    ) -> SQLiteStore:
        """Open (and create, if needed) the database named by ``url``.

        ``busy_timeout``: how long an operation waits for another connection's
        write lock before it raises ``sqlite3.OperationalError``."""
        database = database_from_url(url)
        # isolation_level=None: no implicit transactions, this class says when.
        # timeout=0: SQLite's own busy handler is off, see _patiently.
        db = await aiosqlite.connect(database, isolation_level=None, timeout=0)
        store = cls(
            db,
            database=database,
            busy_timeout=busy_timeout,
            poll_interval=poll_interval,
            purge_interval=purge_interval,
        )
        try:
            await store._prepare()
        except BaseException:
            await db.close()
            raise
        return store

    async def _prepare(self) -> None:
        rows = await self._rows("PRAGMA journal_mode = WAL", ())
        mode = str(rows[0][0]).lower() if rows else ""
        if self.database != ":memory:" and mode != "wal":
            raise RuntimeError(
                f"{self.database}: SQLite refused WAL mode (got {mode!r}); "
                "is the file on a network filesystem?"
            )
        await self._run("PRAGMA synchronous = FULL", ())
        async with self._immediate() as db:
            for statement in _SCHEMA:
                await db.execute(statement)
            await db.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")

    async def _patiently(self, attempt: Callable[[], Awaitable[_T]]) -> _T:
        """Run ``attempt`` again while another connection holds the write lock.

        SQLite's built-in busy handler sleeps in the connection's thread and backs
        off to 100 ms naps, so under contention the lock sits free while everyone
        sleeps (50 connections leasing 120 items: 4.1 s with it, 0.7 s with this).
        Short jittered pauses on the event loop keep the lock busy instead."""
        deadline = time.monotonic() + self._busy_timeout
        pause = 0.0005
        while True:
            try:
                return await attempt()
            except sqlite3.OperationalError as exc:
                busy = exc.sqlite_errorcode & 0xFF == sqlite3.SQLITE_BUSY
                if not busy or time.monotonic() >= deadline:
                    raise
            await asyncio.sleep(random.uniform(0, pause))
            pause = min(pause * 2, 0.01)

    @contextlib.asynccontextmanager
    async def _immediate(self) -> AsyncIterator[aiosqlite.Connection]:
        """A write transaction that holds the write lock from its first statement,
        so nothing it read can change under it."""
        async with self._lock:
            try:
                await self._patiently(lambda: self._db.execute("BEGIN IMMEDIATE"))
                yield self._db
                await self._patiently(lambda: self._db.execute("COMMIT"))
            except BaseException:
                # Unconditionally, and shielded: after a cancellation the BEGIN may
                # still be queued on the connection's thread, and the next caller
                # must not find this transaction open. Statements run in order, so
                # the ROLLBACK lands after it.
                with contextlib.suppress(sqlite3.OperationalError):  # none was open
                    await asyncio.shield(self._rollback())
                raise

    async def _rollback(self) -> None:
        await self._db.execute("ROLLBACK")

    async def _run(self, sql: str, params: Sequence[Any] | dict[str, Any]) -> int:
        """Run one statement on its own (it is its own transaction); rows changed."""

        async def attempt() -> int:
            async with self._db.execute(sql, params) as cursor:
                return cursor.rowcount

        async with self._lock:
            return await self._patiently(attempt)

    async def _rows(self, sql: str, params: Sequence[Any] | dict[str, Any]) -> list[Any]:
        async def attempt() -> list[Any]:
            async with self._db.execute(sql, params) as cursor:
                return list(await cursor.fetchall())

        async with self._lock:
            return await self._patiently(attempt)

    # --- key/value -------------------------------------------------------------
    async def get(self, ns: str, key: str) -> bytes | None:
        rows = await self._rows(
            f"SELECT value FROM kv WHERE ns = :ns AND key = :key AND {_LIVE}",
            {"ns": ns, "key": key, "now": time.time()},
        )
        return bytes(rows[0][0]) if rows else None

    async def _upsert(
        self, ns: str, key: str, value: bytes, ttl: float | None, *, only_if_absent: bool
    ) -> bool:
        check_ttl(ttl)
        now = time.time()
        # An expired row counts as absent: the upsert may overwrite it.
        condition = "WHERE kv.expires_at IS NOT NULL AND kv.expires_at <= :now"
        changed = await self._run(
            f"""
            INSERT INTO kv (ns, key, value, expires_at) VALUES (:ns, :key, :value, :expires_at)
            ON CONFLICT (ns, key) DO UPDATE
                SET value = excluded.value, expires_at = excluded.expires_at
                {condition if only_if_absent else ""}
            """,
            {
                "ns": ns,
                "key": key,
                "value": value,
                "expires_at": None if ttl is None else now + ttl,
                "now": now,
            },
        )
        await self._maybe_purge(now)
        return changed == 1

    async def set(self, ns: str, key: str, value: bytes, *, ttl: float | None = None) -> None:
        await self._upsert(ns, key, value, ttl, only_if_absent=False)

    async def set_if_absent(
        self, ns: str, key: str, value: bytes, *, ttl: float | None = None
    ) -> bool:
        return await self._upsert(ns, key, value, ttl, only_if_absent=True)

    async def compare_and_set(
        self,
        ns: str,
        key: str,
        expected: bytes | None,
        new: bytes | None,
        *,
        ttl: float | None = None,
    ) -> bool:
        check_ttl(ttl)
        if expected is None:
            if new is None:  # "delete it if it is absent": only the check is left
                return await self.get(ns, key) is None
            return await self._upsert(ns, key, new, ttl, only_if_absent=True)
        now = time.time()
        params = {"ns": ns, "key": key, "expected": expected, "now": now}
        match = f"ns = :ns AND key = :key AND value = :expected AND {_LIVE}"
        if new is None:
            changed = await self._run(f"DELETE FROM kv WHERE {match}", params)
        else:
            params |= {"new": new, "expires_at": None if ttl is None else now + ttl}
            changed = await self._run(
                f"UPDATE kv SET value = :new, expires_at = :expires_at WHERE {match}", params
            )
        await self._maybe_purge(now)
        return changed == 1

    async def delete(self, ns: str, key: str) -> bool:
        # An expired row is left for the purge: only a live key counts as deleted.
        changed = await self._run(
            f"DELETE FROM kv WHERE ns = :ns AND key = :key AND {_LIVE}",
            {"ns": ns, "key": key, "now": time.time()},
        )
        return changed == 1

    async def keys(self, ns: str, prefix: str = "") -> list[str]:
        rows = await self._rows(
            f"""
            SELECT key FROM kv
            WHERE ns = :ns AND key >= :prefix AND substr(key, 1, length(:prefix)) = :prefix
                AND {_LIVE}
            ORDER BY key
            """,
            {"ns": ns, "prefix": prefix, "now": time.time()},
        )
        return [str(row[0]) for row in rows]

    async def _maybe_purge(self, now: float) -> None:
        if now - self._last_purge < self._purge_interval:
            return
        self._last_purge = now
        await self._run("DELETE FROM kv WHERE expires_at <= :now", {"now": now})

    # --- queue -----------------------------------------------------------------
    async def enqueue(
        self, queue: str, item_id: str, payload: bytes, *, delay: float = 0.0
    ) -> bool:
        check_delay(delay)
        now = time.time()
        changed = await self._run(
            """
            INSERT INTO queue_items
                (queue, item_id, payload, state, attempts, available_at, enqueued_at)
            VALUES (:queue, :item_id, :payload, :ready, 0, :available_at, :now)
            ON CONFLICT (queue, item_id) DO NOTHING
            """,
            {
                "queue": queue,
                "item_id": item_id,
                "payload": payload,
                "ready": ItemState.READY.value,
                "available_at": now + delay,
                "now": now,
            },
        )
        if changed:
            self._wakeups.notify(queue)
        return changed == 1

    async def lease(self, queue: str, *, visibility_timeout: float, limit: int = 1) -> list[Lease]:
        check_lease(visibility_timeout, limit)
        now = time.time()
        async with self._immediate() as db:
            async with db.execute(
                """
                SELECT seq, item_id, payload, attempts, enqueued_at FROM queue_items
                WHERE queue = ? AND state != 'dead' AND available_at <= ?
                ORDER BY available_at, seq LIMIT ?
                """,
                (queue, now, limit),
            ) as cursor:
                due = await cursor.fetchall()
            leases = [
                (
                    seq,
                    Lease(
                        queue,
                        str(item_id),
                        bytes(payload),
                        attempts + 1,
                        new_token(),
                        now - enqueued_at,
                    ),
                )
                for seq, item_id, payload, attempts, enqueued_at in due
            ]
            await db.executemany(
                """
                UPDATE queue_items
                SET state = 'leased', attempts = ?, available_at = ?, lease_token = ?
                WHERE seq = ?
                """,
                [
                    (lease.attempts, now + visibility_timeout, lease.token, seq)
                    for seq, lease in leases
                ],
            )
        return [lease for _, lease in leases]

    async def ack(self, lease: Lease) -> bool:
        return await self._run(f"DELETE FROM queue_items WHERE {_HELD}", _held(lease)) == 1

    async def retry_in(self, lease: Lease, delay: float, *, error: str | None = None) -> bool:
        check_delay(delay)
        changed = await self._run(
            f"""
            UPDATE queue_items
            SET state = 'ready', available_at = :available_at, lease_token = NULL,
                last_error = coalesce(:error, last_error)
            WHERE {_HELD}
            """,
            _held(lease) | {"available_at": time.time() + delay, "error": error},
        )
        if changed:
            self._wakeups.notify(lease.queue)
        return changed == 1

    async def bury(self, lease: Lease, *, error: str) -> bool:
        changed = await self._run(
            f"""
            UPDATE queue_items
            SET state = 'dead', available_at = :now, lease_token = NULL, last_error = :error
            WHERE {_HELD}
            """,
            _held(lease) | {"now": time.time(), "error": error},
        )
        return changed == 1

    async def revive(self, queue: str, item_id: str) -> bool:
        changed = await self._run(
            """
            UPDATE queue_items SET state = 'ready', available_at = :now, enqueued_at = :now
            WHERE queue = :queue AND item_id = :item_id AND state = 'dead'
            """,
            {"queue": queue, "item_id": item_id, "now": time.time()},
        )
        if changed:
            self._wakeups.notify(queue)
        return changed == 1

    async def hurry(self, queue: str, item_id: str) -> bool:
        now = time.time()
        changed = await self._run(
            """
            UPDATE queue_items SET available_at = :now
            WHERE queue = :queue AND item_id = :item_id AND state = 'ready'
              AND available_at > :now
            """,
            {"queue": queue, "item_id": item_id, "now": now},
        )
        if changed:
            self._wakeups.notify(queue)
        return changed == 1

    async def items(self, queue: str, state: ItemState | None = None) -> list[QueueItem]:
        rows = await self._rows(
            """
            SELECT item_id, payload, state, attempts, available_at, enqueued_at, last_error
            FROM queue_items WHERE queue = ? ORDER BY enqueued_at, seq
            """,
            (queue,),
        )
        now = time.time()
        found = []
        for item_id, payload, stored, attempts, available_at, enqueued_at, last_error in rows:
            shown = visible_state(ItemState(stored), available_at, now)
            if state is None or shown is state:
                found.append(
                    QueueItem(
                        item_id=str(item_id),
                        payload=bytes(payload),
                        state=shown,
                        attempts=int(attempts),
                        available_at=float(available_at),
                        enqueued_at=float(enqueued_at),
                        last_error=last_error,
                    )
                )
        return found

    async def _until_due(self, queue: str) -> float | None:
        rows = await self._rows(
            "SELECT min(available_at) FROM queue_items WHERE queue = ? AND state != 'dead'",
            (queue,),
        )
        due = rows[0][0]
        # One host's files: its processes share this clock.
        return None if due is None else float(due) - time.time()

    async def wait(self, queue: str, timeout: float) -> None:
        await wait_until_due(
            self._wakeups,
            queue,
            timeout,
            lambda: self._until_due(queue),
            poll=self._poll_interval,
        )

    async def close(self) -> None:
        await self._db.close()
