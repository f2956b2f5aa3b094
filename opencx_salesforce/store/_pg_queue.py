"""The PostgreSQL store's queue: each operation one statement on the server's
clock, ``lease`` with ``FOR UPDATE SKIP LOCKED``, and wake-ups sent with
``pg_notify`` in the writing statement (see :mod:`.postgres` for the whole
picture).
"""

from __future__ import annotations

from collections.abc import Sequence

from opencx_salesforce.store._pg_combine import Combiner, columns, found
from opencx_salesforce.store._pg_listen import Listener
from opencx_salesforce.store._pg_statements import Statements
from opencx_salesforce.store._pg_url import PostgresSettings
from opencx_salesforce.store._rules import check_delay, check_lease, new_token
from opencx_salesforce.store._wakeup import Wakeups, wait_until_due
from opencx_salesforce.store.base import ItemState, Lease, QueueItem

_HELD = "queue = $1 AND item_id = $2 AND state = 'leased' AND lease_token = $3"


class PostgresQueue:
    """The queue half of :class:`~.postgres.PostgresStore`."""

    _sql: Statements
    # Requests of ack and enqueue_leased, several a statement under load.
    _acks: Combiner[tuple[str, str, str], bool]
    _leased_adds: Combiner[tuple[str, str, bytes, float, str], bool]
    _q: str  # the queue table, schema-qualified
    _channel: str
    _sender: str
    _wakeups: Wakeups
    _listener: Listener
    settings: PostgresSettings

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

    async def enqueue_leased(
        self, queue: str, item_id: str, payload: bytes, *, visibility_timeout: float
    ) -> Lease | None:
        check_lease(visibility_timeout, 1)
        token = new_token()
        added = await self._leased_adds((queue, item_id, payload, visibility_timeout, token))
        return Lease(queue, item_id, payload, 1, token, 0.0) if added else None

    async def _add_leased_items(
        self, requests: Sequence[tuple[str, str, bytes, float, str]]
    ) -> list[bool]:
        """Add the items leased to their callers (attempt 1) until now() + their
        timeouts (one request an item). Nothing is ready, so nobody is woken (a
        lease running out is a due time)."""
        rows = await self._sql.fetch(
            f"""
            INSERT INTO {self._q} (
                queue, item_id, payload, state, attempts, available_at, enqueued_at,
                lease_token
            )
            SELECT r.queue, r.item_id, r.payload, 'leased', 1,
                   now() + make_interval(secs => r.timeout), now(), r.token
            FROM unnest($1::text[], $2::text[], $3::bytea[], $4::float8[], $5::text[])
                AS r (queue, item_id, payload, timeout, token)
            ON CONFLICT (queue, item_id) DO NOTHING
            RETURNING queue, item_id
            """,
            *columns(requests, 5),
        )
        return found(requests, rows)

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
        return await self._acks((lease.queue, lease.item_id, lease.token))

    async def _ack_items(self, requests: Sequence[tuple[str, str, str]]) -> list[bool]:
        """Remove the held items (one request an item)."""
        rows = await self._sql.fetch(
            f"""
            DELETE FROM {self._q} AS q
            USING unnest($1::text[], $2::text[], $3::text[]) AS r (queue, item_id, token)
            WHERE q.queue = r.queue AND q.item_id = r.item_id
                AND q.state = 'leased' AND q.lease_token = r.token
            RETURNING q.queue, q.item_id
            """,
            *columns(requests, 3),
        )
        return found(requests, rows)

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
        return await self._ready_now(
            queue,
            item_id,
            set_sql="state = 'ready', available_at = now(), enqueued_at = now()",
            where_sql="state = 'dead'",
        )

    async def hurry(self, queue: str, item_id: str) -> bool:
        return await self._ready_now(
            queue,
            item_id,
            set_sql="available_at = now()",
            where_sql="state = 'ready' AND available_at > now()",
        )

    async def _ready_now(self, queue: str, item_id: str, *, set_sql: str, where_sql: str) -> bool:
        """One item made due now (``set_sql`` where ``where_sql``, both constants
        of this class), and its queue's workers told, in one statement."""
        rows = await self._sql.fetch(
            f"""
            WITH changed AS (
                UPDATE {self._q} SET {set_sql}
                WHERE queue = $1 AND item_id = $2 AND {where_sql}
                RETURNING 1
            )
            SELECT pg_notify($3, $4 || ':' || $1) FROM changed
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
