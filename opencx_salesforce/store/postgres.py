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
    own from its first ``wait`` (:mod:`._pg_listen`). ``wait`` also re-reads the
    queue every ``poll`` seconds, so a lost notification only delays. A
    notification carries the sending store's id, so the sender, which has
    already woken one of its own waiters, does not wake a second one.

Expired keys
    read as absent at once; their rows are deleted by a sweep that a write runs
    at most every :attr:`PostgresStore.purge_interval` seconds (60).

Cost
    :attr:`PostgresStore.round_trips` counts the statements sent (one each per
    operation; asyncpg prepares a statement once per connection, one more round
    trip the first time). The pool does not reset connections on release (the
    store leaves no session state), which would cost a round trip per operation.
"""

from __future__ import annotations

import time
from collections.abc import Mapping

import asyncpg

from opencx_salesforce.store._pg_health import StoreHealth, check_writable
from opencx_salesforce.store._pg_listen import Listener
from opencx_salesforce.store._pg_schema import migrate, quote_ident
from opencx_salesforce.store._pg_statements import Statements, no_reset
from opencx_salesforce.store._pg_url import PostgresSettings, parse_postgres_url
from opencx_salesforce.store._rules import check_delay, check_lease, check_ttl, new_token
from opencx_salesforce.store._wakeup import Wakeups, wait_until_due
from opencx_salesforce.store.base import ItemState, Lease, QueueItem

_LIVE = "(expires_at IS NULL OR expires_at > now())"
_HELD = "queue = $1 AND item_id = $2 AND state = 'leased' AND lease_token = $3"
_EXPIRES = "now() + make_interval(secs => $4::float8)"  # NULL ttl: NULL, never expires


class PostgresStore:
    """A :class:`~opencx_salesforce.store.base.Store` in a PostgreSQL schema.
    Open it with :meth:`open`."""

    def __init__(self, pool: asyncpg.Pool, settings: PostgresSettings) -> None:
        self._pool = pool
        self._sql = Statements(pool, reconnect_timeout=settings.reconnect_timeout)
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

    # --- queue -----------------------------------------------------------------
    async def enqueue(
        self, queue: str, item_id: str, payload: bytes, *, delay: float = 0.0
    ) -> bool:
        check_delay(delay)
        rows = await self._sql.fetch(
            f"""
            WITH added AS (
                INSERT INTO {self._q}
                    (queue, item_id, payload, state, attempts, available_at, enqueued_at)
                VALUES ($1, $2, $3, 'ready', 0,
                        now() + make_interval(secs => $4::float8), now())
                ON CONFLICT (queue, item_id) DO NOTHING
                RETURNING 1
            )
            SELECT pg_notify($5, $6 || ':' || $1) FROM added
            """,
            queue,
            item_id,
            payload,
            delay,
            self._channel,
            self._sender,
        )
        if rows:
            self._wakeups.notify(queue)
        return len(rows) == 1

    async def lease(self, queue: str, *, visibility_timeout: float, limit: int = 1) -> list[Lease]:
        check_lease(visibility_timeout, limit)
        with self._wakeups.leasing(queue):
            rows = await self._sql.fetch(
                f"""
                WITH due AS (
                    SELECT seq, available_at AS was_due FROM {self._q}
                    WHERE queue = $1 AND state <> 'dead' AND available_at <= now()
                    ORDER BY available_at, seq
                    LIMIT $2
                    FOR UPDATE SKIP LOCKED
                )
                UPDATE {self._q} AS item
                SET state = 'leased', attempts = item.attempts + 1,
                    available_at = now() + make_interval(secs => $3::float8),
                    lease_token = $4 || '.' || item.seq
                FROM due WHERE item.seq = due.seq
                RETURNING item.item_id, item.payload, item.attempts, item.lease_token,
                          due.was_due, item.seq,
                          extract(epoch FROM now() - item.enqueued_at)::float8
                """,
                queue,
                limit,
                visibility_timeout,
                new_token(),
            )
        rows.sort(key=lambda row: (row[4], row[5]))  # RETURNING keeps no order
        return [
            Lease(queue, str(item_id), bytes(payload), int(attempts), str(token), float(age))
            for item_id, payload, attempts, token, _, _, age in rows
        ]

    async def ack(self, lease: Lease) -> bool:
        changed = await self._sql.execute(
            f"DELETE FROM {self._q} WHERE {_HELD}", lease.queue, lease.item_id, lease.token
        )
        return changed == 1

    async def retry_in(self, lease: Lease, delay: float, *, error: str | None = None) -> bool:
        check_delay(delay)
        rows = await self._sql.fetch(
            f"""
            WITH back AS (
                UPDATE {self._q}
                SET state = 'ready', available_at = now() + make_interval(secs => $4::float8),
                    lease_token = NULL, last_error = coalesce($5, last_error)
                WHERE {_HELD}
                RETURNING 1
            )
            SELECT pg_notify($6, $7 || ':' || $1) FROM back
            """,
            lease.queue,
            lease.item_id,
            lease.token,
            delay,
            error,
            self._channel,
            self._sender,
        )
        if rows:
            self._wakeups.notify(lease.queue)
        return len(rows) == 1

    async def bury(self, lease: Lease, *, error: str) -> bool:
        changed = await self._sql.execute(
            f"""
            UPDATE {self._q}
            SET state = 'dead', available_at = now(), lease_token = NULL, last_error = $4
            WHERE {_HELD}
            """,
            lease.queue,
            lease.item_id,
            lease.token,
            error,
        )
        return changed == 1

    async def revive(self, queue: str, item_id: str) -> bool:
        rows = await self._sql.fetch(
            f"""
            WITH revived AS (
                UPDATE {self._q} SET state = 'ready', available_at = now(), enqueued_at = now()
                WHERE queue = $1 AND item_id = $2 AND state = 'dead'
                RETURNING 1
            )
            SELECT pg_notify($3, $4 || ':' || $1) FROM revived
            """,
            queue,
            item_id,
            self._channel,
            self._sender,
        )
        if rows:
            self._wakeups.notify(queue)
        return len(rows) == 1

    async def hurry(self, queue: str, item_id: str) -> bool:
        rows = await self._sql.fetch(
            f"""
            WITH hurried AS (
                UPDATE {self._q} SET available_at = now()
                WHERE queue = $1 AND item_id = $2 AND state = 'ready' AND available_at > now()
                RETURNING 1
            )
            SELECT pg_notify($3, $4 || ':' || $1) FROM hurried
            """,
            queue,
            item_id,
            self._channel,
            self._sender,
        )
        if rows:
            self._wakeups.notify(queue)
        return len(rows) == 1

    async def items(self, queue: str, state: ItemState | None = None) -> list[QueueItem]:
        # A lease that ran out shows as ready, judged by the server's clock.
        rows = await self._sql.fetch(
            f"""
            SELECT item_id, payload,
                   CASE WHEN state = 'leased' AND available_at <= now() THEN 'ready'
                        ELSE state END AS shown,
                   attempts, extract(epoch FROM available_at)::float8,
                   extract(epoch FROM enqueued_at)::float8, last_error
            FROM {self._q} WHERE queue = $1 ORDER BY enqueued_at, seq
            """,
            queue,
        )
        found = []
        for item_id, payload, shown, attempts, available_at, enqueued_at, last_error in rows:
            if state is None or ItemState(shown) is state:
                found.append(
                    QueueItem(
                        item_id=str(item_id),
                        payload=bytes(payload),
                        state=ItemState(shown),
                        attempts=int(attempts),
                        available_at=float(available_at),
                        enqueued_at=float(enqueued_at),
                        last_error=last_error,
                    )
                )
        return found

    async def _seconds_until_due(self, queue: str) -> float | None:
        """How long until the queue's next item is due, on the server's clock
        (<= 0: one is due now); ``None`` when nothing is waiting."""
        rows = await self._sql.fetch(
            f"""
            SELECT extract(epoch FROM min(available_at) - now())::float8
            FROM {self._q} WHERE queue = $1 AND state <> 'dead'
            """,
            queue,
        )
        due = rows[0][0]
        return None if due is None else float(due)

    async def wait(self, queue: str, timeout: float) -> None:
        await self._listener.ensure_started()
        await wait_until_due(
            self._wakeups,
            queue,
            timeout,
            lambda: self._seconds_until_due(queue),
            poll=self.settings.poll,
        )

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
        await self._pool.close()
