"""The SQLite store's queue: items in the ``queue_items`` table, leased under
the write lock, and workers woken by this store object or, from another
process, by the watcher's poll (see :mod:`.sqlite` for the whole picture).
"""

from __future__ import annotations

import sqlite3
import time
from typing import Any

from opencx_salesforce.store._rules import check_delay, check_lease, new_token, visible_state
from opencx_salesforce.store._sqlite_connection import SQLiteConnection
from opencx_salesforce.store._wakeup import Wakeups, wait_until_due
from opencx_salesforce.store.base import ItemState, Lease, QueueItem

# The item is still held by this lease (see _held for the parameters).
_HELD = "queue = :queue AND item_id = :item_id AND state = 'leased' AND lease_token = :token"


def _held(lease: Lease) -> dict[str, Any]:
    return {"queue": lease.queue, "item_id": lease.item_id, "token": lease.token}


class SQLiteQueue:
    """The queue half of :class:`~.sqlite.SQLiteStore`."""

    _conn: SQLiteConnection
    _wakeups: Wakeups
    _poll_interval: float

    async def enqueue(
        self, queue: str, item_id: str, payload: bytes, *, delay: float = 0.0
    ) -> bool:
        check_delay(delay)
        now = time.time()
        changed = await self._add(queue, item_id, payload, now, now + delay, None)
        if changed:
            self._wakeups.notify(queue)
        return changed

    async def enqueue_leased(
        self, queue: str, item_id: str, payload: bytes, *, visibility_timeout: float
    ) -> Lease | None:
        check_lease(visibility_timeout, 1)
        now = time.time()
        token = new_token()
        # Nothing is ready: no waiter to wake (a lease running out is a due time).
        if not await self._add(queue, item_id, payload, now, now + visibility_timeout, token):
            return None
        return Lease(queue, item_id, payload, 1, token, 0.0)

    async def _add(
        self,
        queue: str,
        item_id: str,
        payload: bytes,
        now: float,
        available_at: float,
        token: str | None,
    ) -> bool:
        """One statement: a new item, ready, or leased to ``token``'s holder
        (attempt 1). False if the id is taken."""
        changed = await self._conn.run(
            """
            INSERT INTO queue_items (
                queue, item_id, payload, state, attempts, available_at, enqueued_at,
                lease_token
            )
            VALUES (:queue, :item_id, :payload, :state, :attempts, :available_at, :now, :token)
            ON CONFLICT (queue, item_id) DO NOTHING
            """,
            {
                "queue": queue,
                "item_id": item_id,
                "payload": payload,
                "state": (ItemState.READY if token is None else ItemState.LEASED).value,
                "attempts": 0 if token is None else 1,
                "available_at": available_at,
                "now": now,
                "token": token,
            },
        )
        return changed == 1

    async def lease(self, queue: str, *, visibility_timeout: float, limit: int = 1) -> list[Lease]:
        check_lease(visibility_timeout, limit)
        now = time.time()

        def take(db: sqlite3.Connection) -> list[Lease]:
            due = db.execute(
                """
                SELECT seq, item_id, payload, attempts, enqueued_at FROM queue_items
                WHERE queue = ? AND state != 'dead' AND available_at <= ?
                ORDER BY available_at, seq LIMIT ?
                """,
                (queue, now, limit),
            ).fetchall()
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
            if leases:
                db.executemany(
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

        # One unit: the read and the update commit together (in a batch, its
        # savepoint; alone, BEGIN IMMEDIATE), so two processes never take one item.
        # Last in its batch: it takes what the batch's enqueues add.
        with self._wakeups.leasing(queue):
            return await self._conn.write(take, last=True)

    async def ack(self, lease: Lease) -> bool:
        return await self._conn.run(f"DELETE FROM queue_items WHERE {_HELD}", _held(lease)) == 1

    async def retry_in(self, lease: Lease, delay: float, *, error: str | None = None) -> bool:
        check_delay(delay)
        changed = await self._conn.run(
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
        changed = await self._conn.run(
            f"""
            UPDATE queue_items
            SET state = 'dead', available_at = :now, lease_token = NULL, last_error = :error
            WHERE {_HELD}
            """,
            _held(lease) | {"now": time.time(), "error": error},
        )
        return changed == 1

    async def revive(self, queue: str, item_id: str) -> bool:
        changed = await self._conn.run(
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
        changed = await self._conn.run(
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
        rows = await self._conn.rows(
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
        rows = await self._conn.rows(
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
