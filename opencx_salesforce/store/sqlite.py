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
    10 s by default) instead of failing; the waiting is done on the connection's
    thread, never on the event loop, in short jittered pauses rather than by
    SQLite's own busy handler (see ``_sqlite_thread``), and
    ``sqlite3.OperationalError`` is raised past it.
    Conditional writes (``set_if_absent``, ``compare_and_set``, ``ack``, …) are
    single statements: SQLite takes the write lock before it reads the row it
    compares, so the check and the write are one atomic step. ``lease``, which
    reads the due items and then updates them, holds the write lock from its
    read to its commit (``BEGIN IMMEDIATE``) so two processes can never pick
    the same item. ``synchronous=FULL``: once a write returns (``enqueue``,
    ``set``, …), it survives a power cut.

Group commit
    Writes that arrive together (in one turn of the event loop, or while a
    commit is in progress) go in one transaction, each in its own savepoint:
    one fsync for many, each write still atomic on its own, with its own
    result and its own error (see ``_sqlite_connection``). A write that finds
    no commit in progress starts at the loop's next turn. Other processes see
    each write whole, as before.

Where SQLite runs
    While commits and reads are quick (a local disk), the event loop runs them
    itself: handing them to a thread costs more than they do. Once commits run
    slow, the loop still runs a batch's statements and hands its ``COMMIT`` to
    the writer's thread; once reads or statements run slow, or find another
    process holding the lock, they go to the connections' threads and the loop
    runs on; the WAL's checkpoints always run there (see ``_sqlite_connection``).

Waking workers
    ``wait`` is woken at once by work added through this store object. Another
    process (or another store object on the same file) cannot signal it, so
    one of the store object's waiters on a queue (the watcher, see
    ``_wakeup``) re-reads the queue's next due time every ``poll_interval``
    seconds (0.1 s by default): one indexed query per queue, however many
    workers idle, and a wake-up from another process is at most that late.

Expired keys read as absent at once and their rows are deleted lazily: by a
write that replaces them, and by a sweep of the whole table at most every
``purge_interval`` seconds, run on a write.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

from opencx_salesforce.store._rules import SchemaTooNew, check_ttl
from opencx_salesforce.store._sqlite_connection import SQLiteConnection
from opencx_salesforce.store._sqlite_pace import LOOP_LIMIT
from opencx_salesforce.store._sqlite_queue import SQLiteQueue
from opencx_salesforce.store._sqlite_schema import SCHEMA, SCHEMA_VERSION
from opencx_salesforce.store._wakeup import Wakeups

_LIVE = "(expires_at IS NULL OR expires_at > :now)"
# Keys one read of get_many asks for: well under SQLite's bound on a
# statement's parameters (32,766 since 3.32, 999 before). [src: sqlite.org
# limits.html "Maximum Number Of Host Parameters In A Single SQL Statement"]
_KEYS_A_READ = 500


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


class SQLiteStore(SQLiteQueue):
    """A :class:`~opencx_salesforce.store.base.Store` in one SQLite file. Open it
    with :meth:`open`."""

    def __init__(
        self,
        conn: SQLiteConnection,
        *,
        database: str,
        poll_interval: float,
        purge_interval: float,
    ) -> None:
        self._conn = conn
        self.database = database
        self._poll_interval = poll_interval
        self._purge_interval = purge_interval
        self._last_purge = 0.0
        self._wakeups = Wakeups()

    @classmethod
    async def open(
        cls,
        url: str,
        *,
        busy_timeout: float = 10.0,
        poll_interval: float = 0.1,
        purge_interval: float = 60.0,
        loop_limit: float = LOOP_LIMIT,
        statement_limit: float | None = None,
    ) -> SQLiteStore:
        """Open (and create, if needed) the database named by ``url``.

        ``busy_timeout``: how long an operation waits for another connection's
        write lock before it raises ``sqlite3.OperationalError``.
        ``loop_limit``: commits and reads that take longer than this on average
        (seconds) run on the connections' threads, quicker ones on the event
        loop; 0 keeps them all on the threads. ``statement_limit``: a batch
        whose commit runs on the writer's thread still runs its statements on
        the loop while they take less than this each on average (by default a
        tenth of ``loop_limit``; 0 sends them to the thread with the commit)."""
        database = database_from_url(url)
        _check_folder(database)
        conn = await SQLiteConnection.open(
            database,
            busy_timeout=busy_timeout,
            loop_limit=loop_limit,
            statement_limit=statement_limit,
        )
        store = cls(
            conn, database=database, poll_interval=poll_interval, purge_interval=purge_interval
        )
        try:
            await store._prepare()
            if database != ":memory:":  # a second :memory: would be another database
                await conn.attach_file(database)
        except BaseException:
            await conn.close()
            raise
        return store

    async def _prepare(self) -> None:
        rows = await self._conn.rows("PRAGMA journal_mode = WAL", ())
        mode = str(rows[0][0]).lower() if rows else ""
        if self.database != ":memory:" and mode != "wal":
            raise RuntimeError(
                f"{self.database}: SQLite refused WAL mode (got {mode!r}); "
                "is the file on a network filesystem?"
            )
        await self._conn.run("PRAGMA synchronous = FULL", ())

        def create(db: sqlite3.Connection) -> None:
            found = int(db.execute("PRAGMA user_version").fetchone()[0])
            if found > SCHEMA_VERSION:
                # Marking it ours again would hide the newer release's tables.
                raise SchemaTooNew(
                    f"SQLite database {self.database} is at schema version {found}, "
                    f"newer than this release knows ({SCHEMA_VERSION}): "
                    "upgrade opencx-salesforce on this instance"
                )
            for statement in SCHEMA:
                db.execute(statement)
            db.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")

        await self._conn.write(create)

    @property
    def commits(self) -> int:
        """Write transactions committed so far (group commit makes it fewer
        than the writes; tests count it)."""
        return self._conn.commits

    # --- key/value -------------------------------------------------------------
    async def get(self, ns: str, key: str) -> bytes | None:
        rows = await self._conn.rows(
            f"SELECT value FROM kv WHERE ns = :ns AND key = :key AND {_LIVE}",
            {"ns": ns, "key": key, "now": time.time()},
        )
        return bytes(rows[0][0]) if rows else None

    async def get_many(self, ns: str, keys: Sequence[str]) -> dict[str, bytes]:
        """One SELECT for up to
        :data:`_KEYS_A_READ` keys; more in as many reads as it takes."""
        unique = list(dict.fromkeys(keys))
        found: dict[str, bytes] = {}
        for start in range(0, len(unique), _KEYS_A_READ):
            chunk = unique[start : start + _KEYS_A_READ]
            params: dict[str, object] = {f"k{n}": key for n, key in enumerate(chunk)}
            listed = ", ".join(f":k{n}" for n in range(len(chunk)))
            rows = await self._conn.rows(
                f"SELECT key, value FROM kv WHERE ns = :ns AND key IN ({listed}) AND {_LIVE}",
                {**params, "ns": ns, "now": time.time()},
            )
            found.update((str(key), bytes(value)) for key, value in rows)
        return found

    _UPSERT = """
        INSERT INTO kv (ns, key, value, expires_at) VALUES (:ns, :key, :value, :expires_at)
        ON CONFLICT (ns, key) DO UPDATE
            SET value = excluded.value, expires_at = excluded.expires_at
        """

    async def _upsert(
        self, ns: str, key: str, value: bytes, ttl: float | None, *, only_if_absent: bool
    ) -> bool:
        check_ttl(ttl)
        now = time.time()
        # An expired row counts as absent: the upsert may overwrite it.
        condition = "WHERE kv.expires_at IS NOT NULL AND kv.expires_at <= :now"
        changed = await self._conn.run(
            self._UPSERT + (condition if only_if_absent else ""),
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

    async def set_many(
        self, ns: str, values: Mapping[str, bytes], *, ttl: float | None = None
    ) -> None:
        check_ttl(ttl)
        if not values:
            return
        now = time.time()
        expires_at = None if ttl is None else now + ttl
        rows = [
            {"ns": ns, "key": key, "value": value, "expires_at": expires_at}
            for key, value in values.items()
        ]

        def upsert_all(db: sqlite3.Connection) -> None:
            db.executemany(self._UPSERT, rows)

        # Not bare: in autocommit, executemany would commit each row alone.
        await self._conn.write(upsert_all)
        await self._maybe_purge(now)

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
            changed = await self._conn.run(f"DELETE FROM kv WHERE {match}", params)
        else:
            params |= {"new": new, "expires_at": None if ttl is None else now + ttl}
            changed = await self._conn.run(
                f"UPDATE kv SET value = :new, expires_at = :expires_at WHERE {match}", params
            )
        await self._maybe_purge(now)
        return changed == 1

    async def delete(self, ns: str, key: str) -> bool:
        # An expired row is left for the purge: only a live key counts as deleted.
        changed = await self._conn.run(
            f"DELETE FROM kv WHERE ns = :ns AND key = :key AND {_LIVE}",
            {"ns": ns, "key": key, "now": time.time()},
        )
        return changed == 1

    async def keys(self, ns: str, prefix: str = "") -> list[str]:
        rows = await self._conn.rows(
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
        await self._conn.run("DELETE FROM kv WHERE expires_at <= :now", {"now": now})

    async def close(self) -> None:
        await self._conn.close()


def _check_folder(database: str) -> None:
    """SQLite makes the database file but not its folder, and says only
    "unable to open database file" when the folder is missing: name it."""
    if database == ":memory:" or database.startswith("file:"):
        return
    folder = Path(database).parent
    if not folder.is_dir():
        raise FileNotFoundError(
            f"the folder {str(folder)!r} does not exist (SQLite makes the database file, "
            "not its folder): create it, or point the URL at another folder"
        )
