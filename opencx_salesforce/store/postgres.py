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
    leaves nothing half-done. ``set_if_absent`` is ``INSERT … ON CONFLICT DO
    UPDATE … WHERE <the old row expired>``; compare-and-set and the lease-checked
    queue writes are conditional ``UPDATE``/``DELETE … RETURNING``, which
    PostgreSQL re-checks against the newest row version under the row lock, so
    racers get exactly one winner. ``lease`` picks due items with
    ``SELECT … FOR UPDATE SKIP LOCKED`` and marks them in the same statement.

Riding out a restart
    A statement the server aborted (a restart, a terminated backend) or that
    never reached it is tried again on a new connection for up to
    ``reconnect_timeout`` seconds (:mod:`._pg_retry`), so a ``pg_ctl restart``
    delays the store's callers instead of failing them.

The clock
    TTLs, lease deadlines, "is it due" and the enqueue time use the server's
    ``now()`` (the statement's transaction start; each operation is its own
    transaction), never the instance's clock, so an instance whose clock runs
    ahead cannot expire a key or steal a live lease early. Callers pass
    delays, which the statement adds to ``now()``.

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
    :attr:`PostgresStore.round_trips` counts the statements sent (one each per
    operation; asyncpg prepares a statement once per connection, one more round
    trip the first time). The pool does not reset connections on release (the
    store leaves no session state), which would cost a round trip per operation,
    and the store keeps the connections it took between statements
    (:mod:`._pg_lender`): the pool's acquire and release cost more CPU than a
    statement.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence

import asyncpg

from opencx_salesforce.store._pg_health import StoreHealth, check_writable
from opencx_salesforce.store._pg_listen import Listener
from opencx_salesforce.store._pg_queue import PostgresQueue
from opencx_salesforce.store._pg_schema import migrate, quote_ident
from opencx_salesforce.store._pg_statements import Statements, no_reset
from opencx_salesforce.store._pg_url import PostgresSettings, parse_postgres_url
from opencx_salesforce.store._rules import check_ttl, new_token
from opencx_salesforce.store._wakeup import Wakeups

_LIVE = "(expires_at IS NULL OR expires_at > now())"
_EXPIRES = "now() + make_interval(secs => $4::float8)"  # NULL ttl: NULL, never expires


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
        rows = await self._sql.fetch(
            f"SELECT value FROM {self._kv} WHERE ns = $1 AND key = $2 AND {_LIVE}", ns, key
        )
        return bytes(rows[0][0]) if rows else None

    async def get_many(self, ns: str, keys: Sequence[str]) -> dict[str, bytes]:
        """One statement for any number of keys."""
        if not keys:
            return {}
        rows = await self._sql.fetch(
            f"SELECT key, value FROM {self._kv} WHERE ns = $1 AND key = ANY($2::text[]) "
            f"AND {_LIVE}",
            ns,
            list(dict.fromkeys(keys)),
        )
        return {str(row[0]): bytes(row[1]) for row in rows}

    async def _upsert(
        self, ns: str, key: str, value: bytes, ttl: float | None, *, only_if_absent: bool
    ) -> bool:
        check_ttl(ttl)
        # An expired row counts as absent: the upsert may overwrite it, under
        # the row lock ON CONFLICT takes, so exactly one racer wins.
        condition = "WHERE kv.expires_at <= now()" if only_if_absent else ""
        rows = await self._sql.fetch(
            f"""
            INSERT INTO {self._kv} AS kv (ns, key, value, expires_at)
            VALUES ($1, $2, $3, {_EXPIRES})
            ON CONFLICT (ns, key) DO UPDATE
                SET value = excluded.value, expires_at = excluded.expires_at
                {condition}
            RETURNING 1
            """,
            ns,
            key,
            value,
            ttl,
        )
        await self._maybe_purge()
        return len(rows) == 1

    async def set(self, ns: str, key: str, value: bytes, *, ttl: float | None = None) -> None:
        await self._upsert(ns, key, value, ttl, only_if_absent=False)

    async def set_many(
        self, ns: str, values: Mapping[str, bytes], *, ttl: float | None = None
    ) -> None:
        check_ttl(ttl)
        if not values:
            return
        # One statement: one round trip, one transaction for every pair.
        await self._sql.execute(
            f"""
            INSERT INTO {self._kv} AS kv (ns, key, value, expires_at)
            SELECT $1, pair.key, pair.value, {_EXPIRES}
            FROM unnest($2::text[], $3::bytea[]) AS pair (key, value)
            ON CONFLICT (ns, key) DO UPDATE
                SET value = excluded.value, expires_at = excluded.expires_at
            """,
            ns,
            list(values),
            list(values.values()),
            ttl,
        )
        await self._maybe_purge()

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
        match = f"ns = $1 AND key = $2 AND value = $3 AND {_LIVE}"
        if new is None:
            return (
                await self._sql.execute(f"DELETE FROM {self._kv} WHERE {match}", ns, key, expected)
                == 1
            )
        changed = await self._sql.execute(
            f"""
            UPDATE {self._kv} SET value = $5, expires_at = {_EXPIRES}
            WHERE {match}
            """,
            ns,
            key,
            expected,
            ttl,
            new,
        )
        return changed == 1

    async def delete(self, ns: str, key: str) -> bool:
        # The expired row goes too, but only a live key counts as deleted.
        rows = await self._sql.fetch(
            f"DELETE FROM {self._kv} WHERE ns = $1 AND key = $2 RETURNING {_LIVE}", ns, key
        )
        return bool(rows and rows[0][0])

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
        await self._listener.close()
        await self._sql.close()
        await self._pool.close()
