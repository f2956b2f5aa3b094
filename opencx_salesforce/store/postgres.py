"""The shared store on PostgreSQL: several host instances, durable, on the
server's clock.

``store_url = "postgresql://user@host:5432/db?schema=opencx&pool_min=1&pool_max=10"``
(``postgres://`` too); the store's own query parameters are described in
:mod:`._pg_url` and removed before the DSN reaches asyncpg. Tables live in their
own schema (created and migrated at open, see :mod:`._pg_schema`), so the store
can share the host's database.

How the protocol maps onto PostgreSQL
    Every operation is one SQL statement, so one transaction and one round trip:
    nothing it writes is visible before it commits, and a connection lost midway
    leaves nothing half-done. Under load, the requests of one kind that queue up
    while two statements of that kind are in flight go together in one statement
    over arrays of their rows (:mod:`._pg_combine`: reads, writes, deletes,
    compare-and-sets, ``set_if_absent``, ``enqueue_leased``, ``ack``), each caller
    with its own answer; a lone request is its own statement. ``set_if_absent`` is
    ``INSERT … ON CONFLICT DO UPDATE … WHERE <the old row expired>``;
    compare-and-set and the lease-checked queue writes are conditional
    ``UPDATE``/``DELETE … RETURNING``, which PostgreSQL re-checks against the newest
    row version under the row lock, so racers get exactly one winner. ``lease``
    picks due items with ``SELECT … FOR UPDATE SKIP LOCKED`` and marks them in the
    same statement.

Riding out a restart
    A statement the server aborted (a restart, a terminated backend) or that
    never reached it is tried again on a new connection for up to
    ``reconnect_timeout`` seconds (:mod:`._pg_retry`), so a ``pg_ctl restart``
    delays the store's callers instead of failing them.

The clock
    TTLs, lease deadlines, "is it due" and the enqueue time use the server's
    ``now()`` (the start of the statement's transaction), never the instance's
    clock, so an instance whose clock runs ahead cannot expire a key or steal a live
    lease early. Callers pass delays, which the statement adds to ``now()``.

Waking workers
    ``enqueue``, ``retry_in``, ``revive`` and ``hurry`` call ``pg_notify`` in their own
    statement (sent on commit); each store ``LISTEN``s on one connection of its
    own from its first ``wait`` (:mod:`._pg_listen`). One waiter per queue (the
    watcher, :mod:`._wakeup`) also re-reads the queue every ``poll`` seconds,
    so a lost notification only delays. A
    notification carries the sending store's id, so the sender, which has
    already woken one of its own waiters, does not wake a second one.

Expired keys
    read as absent at once; their rows are deleted by a sweep that a write runs
    at most every :attr:`PostgresStore.purge_interval` seconds (60).

Cost
    :attr:`PostgresStore.round_trips` counts the statements sent (one an operation
    alone, fewer under load: a handoff's thirteen operations took two statements at
    100 concurrent handoffs; asyncpg prepares a statement once per connection, one
    more round trip the first time). The pool does not reset connections on release
    (the store leaves no session state), which would cost a round trip per
    operation, and the store keeps the connections it took between statements
    (:mod:`._pg_lender`): the pool's acquire and release cost more CPU than a
    statement.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence

import asyncpg

from opencx_salesforce.store._pg_combine import Combiner, columns, found, row_key
from opencx_salesforce.store._pg_health import StoreHealth, check_writable
from opencx_salesforce.store._pg_listen import Listener
from opencx_salesforce.store._pg_queue import PostgresQueue
from opencx_salesforce.store._pg_retry import refused
from opencx_salesforce.store._pg_schema import migrate, quote_ident
from opencx_salesforce.store._pg_statements import Statements, no_reset
from opencx_salesforce.store._pg_url import PostgresSettings, parse_postgres_url
from opencx_salesforce.store._rules import check_ttl, new_token
from opencx_salesforce.store._wakeup import Wakeups

_LIVE = "(expires_at IS NULL OR expires_at > now())"
_Row = tuple[str, str, bytes, float | None]  # ns, key, value, ttl
_Swap = tuple[str, str, bytes, bytes, float | None]  # ns, key, expected, new, ttl


class PostgresStore(PostgresQueue):
    """A :class:`~opencx_salesforce.store.base.Store` in a PostgreSQL schema.
    Open it with :meth:`open`."""

    def __init__(self, pool: asyncpg.Pool, settings: PostgresSettings) -> None:
        self._pool = pool
        self._sql = Statements(
            pool, size=settings.pool_max, reconnect_timeout=settings.reconnect_timeout
        )
        self.settings = settings
        self.schema = settings.schema
        s = quote_ident(settings.schema)
        self._kv = f"{s}.kv"
        self._q = f"{s}.queue_items"
        self._s = s
        self._channel = f"{settings.schema}:wake"
        self._wakeups = Wakeups()
        self._sender = new_token()[:12]  # tags this store's notifications
        self._listener = Listener(settings.dsn, self._channel, self._wakeups, self._sender)
        # Concurrent callers' requests of one kind share statements (_pg_combine).
        # Those whose statement cannot say which of two requests on one row
        # changed it go one per row a statement (row=).
        self._writes = Combiner(self._write_rows, refused=refused)
        self._claims = Combiner(self._claim_rows, refused=refused, row=row_key)
        self._swaps = Combiner(self._swap_rows, refused=refused, row=row_key)
        self._unsets = Combiner(self._unset_rows, refused=refused, row=row_key)
        self._deletes = Combiner(self._delete_keys, refused=refused, row=row_key)
        self._reads = Combiner(self._read_keys, refused=refused)
        self._leased_adds = Combiner(self._add_leased_items, refused=refused, row=row_key)
        self._acks = Combiner(self._ack_items, refused=refused, row=row_key)
        self._combiners = (
            self._writes,
            self._claims,
            self._swaps,
            self._unsets,
            self._deletes,
            self._reads,
            self._leased_adds,
            self._acks,
        )
        # Expired rows read as absent at once; they are deleted by a sweep run
        # on a write at most this often (seconds, monotonic).
        self.purge_interval = 60.0
        self._last_purge = time.monotonic()

    @classmethod
    async def open(cls, url: str) -> PostgresStore:
        """Connect, create or upgrade the schema, and return the store."""
        settings = parse_postgres_url(url)
        pool = await asyncpg.create_pool(
            settings.dsn,
            min_size=settings.pool_min,
            max_size=settings.pool_max,
            reset=no_reset,
        )
        try:
            async with pool.acquire() as conn:
                await migrate(conn, settings.schema)
        except BaseException:
            await pool.close()
            raise
        return cls(pool, settings)

    # --- key/value -------------------------------------------------------------
    async def get(self, ns: str, key: str) -> bytes | None:
        return (await self._reads((ns, (key,)))).get(key)

    async def get_many(self, ns: str, keys: Sequence[str]) -> dict[str, bytes]:
        """One statement for any number of keys (with other callers' reads,
        under load)."""
        if not keys:
            return {}
        return await self._reads((ns, tuple(keys)))

    async def _read_keys(
        self, requests: Sequence[tuple[str, tuple[str, ...]]]
    ) -> list[dict[str, bytes]]:
        """The live values of every request's keys, in one statement."""
        wanted = sorted({(ns, key) for ns, keys in requests for key in keys})
        rows = await self._sql.fetch(
            f"""
            SELECT kv.ns, kv.key, kv.value
            FROM unnest($1::text[], $2::text[]) AS r (ns, key)
            JOIN {self._kv} AS kv ON kv.ns = r.ns AND kv.key = r.key
            WHERE {_LIVE}
            """,
            *columns(wanted, 2),
        )
        live = {(str(row[0]), str(row[1])): bytes(row[2]) for row in rows}
        return [
            {key: live[(ns, key)] for key in keys if (ns, key) in live} for ns, keys in requests
        ]

    async def _insert_if_absent(self, ns: str, key: str, value: bytes, ttl: float | None) -> bool:
        check_ttl(ttl)
        return await self._claims((ns, key, value, ttl))

    async def _claim_rows(self, requests: Sequence[_Row]) -> list[bool]:
        """Write the keys that are absent (one request a key). An expired row
        counts as absent: the upsert may overwrite it, under the row lock ON
        CONFLICT takes, so exactly one racer wins."""
        rows = await self._sql.fetch(
            f"""
            INSERT INTO {self._kv} AS kv (ns, key, value, expires_at)
            SELECT r.ns, r.key, r.value, now() + make_interval(secs => r.ttl)
            FROM unnest($1::text[], $2::text[], $3::bytea[], $4::float8[])
                AS r (ns, key, value, ttl)
            ON CONFLICT (ns, key) DO UPDATE
                SET value = excluded.value, expires_at = excluded.expires_at
                WHERE kv.expires_at <= now()
            RETURNING kv.ns, kv.key
            """,
            *columns(requests, 4),
        )
        await self._maybe_purge()
        return found(requests, rows)

    async def set(self, ns: str, key: str, value: bytes, *, ttl: float | None = None) -> None:
        check_ttl(ttl)
        await self._writes(((ns, key, value, ttl),))

    async def set_many(
        self, ns: str, values: Mapping[str, bytes], *, ttl: float | None = None
    ) -> None:
        check_ttl(ttl)
        if values:
            # One statement (with other callers' writes, under load): one
            # transaction for every pair.
            await self._writes(tuple((ns, key, value, ttl) for key, value in values.items()))

    async def _write_rows(self, requests: Sequence[tuple[_Row, ...]]) -> list[None]:
        """Upsert the rows of every request in one statement. The same key twice
        keeps the later value (requests in the order they came)."""
        latest = {(row[0], row[1]): row[2:] for request in requests for row in request}
        rows = [(*key, *latest[key]) for key in sorted(latest)]  # key order: see _pg_combine
        await self._sql.execute(
            f"""
            INSERT INTO {self._kv} AS kv (ns, key, value, expires_at)
            SELECT r.ns, r.key, r.value, now() + make_interval(secs => r.ttl)
            FROM unnest($1::text[], $2::text[], $3::bytea[], $4::float8[])
                AS r (ns, key, value, ttl)
            ON CONFLICT (ns, key) DO UPDATE
                SET value = excluded.value, expires_at = excluded.expires_at
            """,
            *columns(rows, 4),
        )
        await self._maybe_purge()
        return [None] * len(requests)

    async def set_if_absent(
        self, ns: str, key: str, value: bytes, *, ttl: float | None = None
    ) -> bool:
        return await self._insert_if_absent(ns, key, value, ttl)

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
            return await self._insert_if_absent(ns, key, new, ttl)
        if new is None:
            return await self._unsets((ns, key, expected))
        return await self._swaps((ns, key, expected, new, ttl))

    async def _swap_rows(self, requests: Sequence[_Swap]) -> list[bool]:
        """Compare-and-set of live keys to new values (one request a key)."""
        rows = await self._sql.fetch(
            f"""
            UPDATE {self._kv} AS kv
            SET value = r.new, expires_at = now() + make_interval(secs => r.ttl)
            FROM unnest($1::text[], $2::text[], $3::bytea[], $4::bytea[], $5::float8[])
                AS r (ns, key, expected, new, ttl)
            WHERE kv.ns = r.ns AND kv.key = r.key AND kv.value = r.expected AND {_LIVE}
            RETURNING kv.ns, kv.key
            """,
            *columns(requests, 5),
        )
        return found(requests, rows)

    async def _unset_rows(self, requests: Sequence[tuple[str, str, bytes]]) -> list[bool]:
        """Compare-and-delete of live keys (one request a key)."""
        rows = await self._sql.fetch(
            f"""
            DELETE FROM {self._kv} AS kv
            USING unnest($1::text[], $2::text[], $3::bytea[]) AS r (ns, key, expected)
            WHERE kv.ns = r.ns AND kv.key = r.key AND kv.value = r.expected AND {_LIVE}
            RETURNING kv.ns, kv.key
            """,
            *columns(requests, 3),
        )
        return found(requests, rows)

    async def delete(self, ns: str, key: str) -> bool:
        return await self._deletes((ns, key))

    async def _delete_keys(self, requests: Sequence[tuple[str, str]]) -> list[bool]:
        """Delete the requested keys (one request a key). The expired row goes
        too, but only a live key counts as deleted."""
        rows = await self._sql.fetch(
            f"""
            DELETE FROM {self._kv} AS kv
            USING unnest($1::text[], $2::text[]) AS r (ns, key)
            WHERE kv.ns = r.ns AND kv.key = r.key
            RETURNING kv.ns, kv.key, {_LIVE}
            """,
            *columns(requests, 2),
        )
        return found(requests, [row for row in rows if row[2]])

    async def keys(self, ns: str, prefix: str = "") -> list[str]:
        rows = await self._sql.fetch(
            f"""
            SELECT key FROM {self._kv}
            WHERE ns = $1 AND key >= $2 AND starts_with(key, $2) AND {_LIVE}
            ORDER BY key
            """,
            ns,
            prefix,
        )
        return [str(row[0]) for row in rows]

    async def purge_expired(self) -> int:
        """Delete the rows of expired keys (they already read as absent); how many."""
        self._last_purge = time.monotonic()
        return await self._sql.execute(f"DELETE FROM {self._kv} WHERE expires_at <= now()")

    async def _maybe_purge(self) -> None:
        if time.monotonic() - self._last_purge >= self.purge_interval:
            await self.purge_expired()

    # --- operations ------------------------------------------------------------
    @property
    def round_trips(self) -> int:
        """Statements sent to the server so far, retries included."""
        return self._sql.round_trips

    async def schema_version(self) -> int:
        """The highest migration applied to this store's schema."""
        rows = await self._sql.fetch(
            f"SELECT coalesce(max(version), 0) FROM {self._s}.schema_version"
        )
        return int(rows[0][0])

    async def check_writable(self) -> StoreHealth:
        """Commit one small write and report the schema version and the server's
        clock (see :mod:`._pg_health`): what ``doctor`` shows."""
        return await check_writable(
            lambda sql: self._sql.fetch(sql, retry=False), self.schema, self._s
        )

    async def close(self) -> None:
        for combiner in self._combiners:
            await combiner.drain()
        await self._listener.close()
        await self._sql.close()
        await self._pool.close()
