"""The in-process store: for tests, the demo and one-off scripts.

Every method does its work without awaiting in between, so on one event loop each
call is atomic; that is all the "atomic" in the protocol needs here. It is not
thread-safe, and nothing survives the process.
"""

from __future__ import annotations

import heapq
import itertools
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from opencx_salesforce.store._rules import (
    check_delay,
    check_lease,
    check_ttl,
    new_token,
    visible_state,
)
from opencx_salesforce.store._wakeup import Wakeups, wait_until_due
from opencx_salesforce.store.base import ItemState, Lease, QueueItem


@dataclass(slots=True)
class _Entry:
    value: bytes
    expires_at: float | None

    def live(self, now: float) -> bool:
        return self.expires_at is None or self.expires_at > now


@dataclass(slots=True)
class _Item:
    item_id: str
    payload: bytes
    state: ItemState
    attempts: int
    available_at: float  # for a leased item: its lease deadline
    enqueued_at: float
    seq: int  # breaks ties between equal timestamps: first in, first out
    token: str | None
    last_error: str | None
    version: int = 0  # bumped at each schedule; older heap entries are stale


class _Schedule:
    """One queue's items that are not dead, by (available_at, seq), in a heap with
    lazy deletion: a change pushes a new entry and bumps the item's version, so
    leasing and finding the next due time cost O(log n), not a scan of the queue."""

    def __init__(self) -> None:
        self._heap: list[tuple[float, int, int, _Item]] = []

    def push(self, item: _Item) -> None:
        item.version += 1
        heapq.heappush(self._heap, (item.available_at, item.seq, item.version, item))

    def _clean_top(self) -> _Item | None:
        while self._heap:
            _, _, version, item = self._heap[0]
            if version == item.version and item.state is not ItemState.DEAD:
                return item
            heapq.heappop(self._heap)  # stale: the item moved, was acked or buried
        return None

    def next_due(self) -> float | None:
        top = self._clean_top()
        return None if top is None else top.available_at

    def pop_due(self, now: float) -> _Item | None:
        top = self._clean_top()
        if top is None or top.available_at > now:
            return None
        heapq.heappop(self._heap)
        return top


class MemoryStore:
    """A :class:`~opencx_salesforce.store.base.Store` in a few dicts."""

    def __init__(self) -> None:
        self._namespaces: dict[str, dict[str, _Entry]] = {}
        self._queues: dict[str, dict[str, _Item]] = {}
        self._schedules: dict[str, _Schedule] = {}
        self._seq = itertools.count()
        self._wakeups = Wakeups()

    # --- key/value -------------------------------------------------------------
    def _live(self, ns: str, key: str, now: float) -> _Entry | None:
        entries = self._namespaces.get(ns)
        entry = None if entries is None else entries.get(key)
        if entry is None:
            return None
        if not entry.live(now):
            del self._namespaces[ns][key]
            return None
        return entry

    def _write(self, ns: str, key: str, value: bytes, ttl: float | None, now: float) -> None:
        expires_at = None if ttl is None else now + ttl
        self._namespaces.setdefault(ns, {})[key] = _Entry(value, expires_at)

    async def get(self, ns: str, key: str) -> bytes | None:
        entry = self._live(ns, key, time.time())
        return None if entry is None else entry.value

    async def get_many(self, ns: str, keys: Sequence[str]) -> dict[str, bytes]:
        now = time.time()
        found = {}
        for key in keys:
            entry = self._live(ns, key, now)
            if entry is not None:
                found[key] = entry.value
        return found

    async def set(self, ns: str, key: str, value: bytes, *, ttl: float | None = None) -> None:
        check_ttl(ttl)
        self._write(ns, key, value, ttl, time.time())

    async def set_many(
        self, ns: str, values: Mapping[str, bytes], *, ttl: float | None = None
    ) -> None:
        check_ttl(ttl)
        now = time.time()
        for key, value in values.items():
            self._write(ns, key, value, ttl, now)

    async def set_if_absent(
        self, ns: str, key: str, value: bytes, *, ttl: float | None = None
    ) -> bool:
        check_ttl(ttl)
        now = time.time()
        if self._live(ns, key, now) is not None:
            return False
        self._write(ns, key, value, ttl, now)
        return True

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
        now = time.time()
        entry = self._live(ns, key, now)
        current = None if entry is None else entry.value
        if current != expected:
            return False
        if new is None:
            if entry is not None:
                del self._namespaces[ns][key]
        else:
            self._write(ns, key, new, ttl, now)
        return True

    async def delete(self, ns: str, key: str) -> bool:
        if self._live(ns, key, time.time()) is None:
            return False
        del self._namespaces[ns][key]
        return True

    async def keys(self, ns: str, prefix: str = "") -> list[str]:
        entries = self._namespaces.get(ns, {})
        now = time.time()
        expired = [key for key, entry in entries.items() if not entry.live(now)]
        for key in expired:  # purge while we are looking anyway
            del entries[key]
        return sorted(key for key in entries if key.startswith(prefix))

    # --- queue -----------------------------------------------------------------
    async def enqueue(
        self, queue: str, item_id: str, payload: bytes, *, delay: float = 0.0
    ) -> bool:
        check_delay(delay)
        now = time.time()
        if not self._add(queue, item_id, payload, now, now + delay, None):
            return False
        self._wakeups.notify(queue)
        return True

    async def enqueue_leased(
        self, queue: str, item_id: str, payload: bytes, *, visibility_timeout: float
    ) -> Lease | None:
        check_lease(visibility_timeout, 1)
        now = time.time()
        token = new_token()
        # Nothing is ready: no waiter to wake (its lease running out is a due
        # time in the schedule like any other).
        if not self._add(queue, item_id, payload, now, now + visibility_timeout, token):
            return None
        return Lease(queue, item_id, payload, 1, token, 0.0)

    def _add(
        self,
        queue: str,
        item_id: str,
        payload: bytes,
        now: float,
        available_at: float,
        token: str | None,
    ) -> bool:
        """A new item, ready, or leased to ``token``'s holder (attempt 1).
        False if the id is taken."""
        items = self._queues.setdefault(queue, {})
        if item_id in items:
            return False
        item = _Item(
            item_id=item_id,
            payload=payload,
            state=ItemState.READY if token is None else ItemState.LEASED,
            attempts=0 if token is None else 1,
            available_at=available_at,
            enqueued_at=now,
            seq=next(self._seq),
            token=token,
            last_error=None,
        )
        items[item_id] = item
        self._schedule(queue).push(item)
        return True

    def _schedule(self, queue: str) -> _Schedule:
        schedule = self._schedules.get(queue)
        if schedule is None:
            schedule = self._schedules[queue] = _Schedule()
        return schedule

    async def lease(self, queue: str, *, visibility_timeout: float, limit: int = 1) -> list[Lease]:
        check_lease(visibility_timeout, limit)
        now = time.time()
        schedule = self._schedule(queue)
        leases: list[Lease] = []
        # A leased item whose lease ran out is due again: its deadline is its
        # available_at, so it comes out of the heap like any ready item.
        while len(leases) < limit and (item := schedule.pop_due(now)) is not None:
            item.state = ItemState.LEASED
            item.attempts += 1
            item.available_at = now + visibility_timeout
            item.token = new_token()
            schedule.push(item)
            age = now - item.enqueued_at
            leases.append(Lease(queue, item.item_id, item.payload, item.attempts, item.token, age))
        return leases

    def _current(self, lease: Lease) -> _Item | None:
        """The leased item, if ``lease`` is still the one that holds it."""
        item = self._queues.get(lease.queue, {}).get(lease.item_id)
        if item is None or item.state is not ItemState.LEASED or item.token != lease.token:
            return None
        return item

    async def ack(self, lease: Lease) -> bool:
        item = self._current(lease)
        if item is None:
            return False
        del self._queues[lease.queue][lease.item_id]
        item.version += 1  # its heap entries are stale now
        return True

    async def retry_in(self, lease: Lease, delay: float, *, error: str | None = None) -> bool:
        check_delay(delay)
        item = self._current(lease)
        if item is None:
            return False
        item.state, item.available_at, item.token = ItemState.READY, time.time() + delay, None
        if error is not None:
            item.last_error = error
        self._schedule(lease.queue).push(item)
        self._wakeups.notify(lease.queue)
        return True

    async def bury(self, lease: Lease, *, error: str) -> bool:
        item = self._current(lease)
        if item is None:
            return False
        item.state, item.available_at, item.token = ItemState.DEAD, time.time(), None
        item.last_error = error
        item.version += 1
        return True

    async def revive(self, queue: str, item_id: str) -> bool:
        item = self._queues.get(queue, {}).get(item_id)
        if item is None or item.state is not ItemState.DEAD:
            return False
        now = time.time()
        item.state, item.available_at, item.enqueued_at = ItemState.READY, now, now
        self._schedule(queue).push(item)
        self._wakeups.notify(queue)
        return True

    async def hurry(self, queue: str, item_id: str) -> bool:
        item = self._queues.get(queue, {}).get(item_id)
        now = time.time()
        if item is None or item.state is not ItemState.READY or item.available_at <= now:
            return False
        item.available_at = now
        self._schedule(queue).push(item)
        self._wakeups.notify(queue)
        return True

    async def items(self, queue: str, state: ItemState | None = None) -> list[QueueItem]:
        now = time.time()
        found = []
        for item in sorted(
            self._queues.get(queue, {}).values(), key=lambda item: (item.enqueued_at, item.seq)
        ):
            shown = visible_state(item.state, item.available_at, now)
            if state is None or shown is state:
                found.append(
                    QueueItem(
                        item_id=item.item_id,
                        payload=item.payload,
                        state=shown,
                        attempts=item.attempts,
                        available_at=item.available_at,
                        enqueued_at=item.enqueued_at,
                        last_error=item.last_error,
                    )
                )
        return found

    def waiting(self, queue: str) -> int:
        """How many callers of :meth:`wait` on ``queue`` are idle now (tests wait
        for a worker to be idle instead of sleeping)."""
        return self._wakeups.waiting(queue)

    async def wait(self, queue: str, timeout: float) -> None:
        await wait_until_due(self._wakeups, queue, timeout, lambda: self._until_due(queue))

    async def _until_due(self, queue: str) -> float | None:
        due = self._schedule(queue).next_due()
        return None if due is None else due - time.time()

    async def close(self) -> None:
        """Nothing to release; the data goes with the object."""
