"""``wait``: a worker sleeps until work may be ready, and is woken by work added
through another store (another host instance) rather than by its timeout."""

from __future__ import annotations

import asyncio
import time

from opencx_salesforce.store import Store
from opencx_salesforce.testing.store_conformance.backend import Backend

__all__ = [
    "test_a_retry_and_a_revive_on_another_store_wake_the_waiter",
    "test_an_enqueue_on_another_store_wakes_the_waiter",
    "test_hurrying_on_another_store_wakes_the_waiter",
    "test_wait_returns_at_once_when_an_item_is_ready",
    "test_wait_times_out_when_nothing_comes",
    "test_wait_wakes_when_a_lease_runs_out",
    "test_wait_wakes_when_a_retry_comes_due",
]

Q = "outbox"
TIMEOUT = 5.0  # what the waiter would sleep if nobody woke it
PROMPT = 1.0  # "woken", with room for a slow CI box (SQLite polls every 0.1 s)


async def _start_waiting(store: Store) -> asyncio.Task[None]:
    waiter = asyncio.create_task(store.wait(Q, TIMEOUT))
    await asyncio.sleep(0.1)
    assert not waiter.done(), "wait returned with nothing to wake it"
    return waiter


async def _seconds_until_done(waiter: asyncio.Task[None]) -> float:
    started = time.monotonic()
    await asyncio.wait_for(waiter, TIMEOUT + 1)
    return time.monotonic() - started


async def test_an_enqueue_on_another_store_wakes_the_waiter(backend: Backend) -> None:
    worker, producer = await backend.open(), await backend.open()
    waiter = await _start_waiting(worker)
    await producer.enqueue(Q, "job", b"p")
    assert await _seconds_until_done(waiter) < PROMPT
    [lease] = await worker.lease(Q, visibility_timeout=60)
    assert lease.item_id == "job"


async def test_a_retry_and_a_revive_on_another_store_wake_the_waiter(backend: Backend) -> None:
    worker, other = await backend.open(), await backend.open()
    await other.enqueue(Q, "retried", b"")
    await other.enqueue(Q, "buried", b"")
    retried, buried = await other.lease(Q, visibility_timeout=60, limit=2)

    waiter = await _start_waiting(worker)
    await other.retry_in(retried, 0, error="try again")
    assert await _seconds_until_done(waiter) < PROMPT
    await worker.lease(Q, visibility_timeout=60)

    await other.bury(buried, error="dead")
    waiter = await _start_waiting(worker)
    await other.revive(Q, "buried")
    assert await _seconds_until_done(waiter) < PROMPT


async def test_wait_times_out_when_nothing_comes(store: Store) -> None:
    await store.enqueue(Q, "later", b"", delay=60)
    await store.enqueue("another-queue", "job", b"")
    started = time.monotonic()
    await store.wait(Q, 0.2)
    assert 0.19 <= time.monotonic() - started < PROMPT


async def test_wait_returns_at_once_when_an_item_is_ready(store: Store) -> None:
    await store.enqueue(Q, "job", b"")
    started = time.monotonic()
    await store.wait(Q, TIMEOUT)
    assert time.monotonic() - started < 0.1


async def test_wait_wakes_when_a_retry_comes_due(store: Store) -> None:
    await store.enqueue(Q, "job", b"")
    [lease] = await store.lease(Q, visibility_timeout=60)
    await store.retry_in(lease, 0.2)
    started = time.monotonic()
    await store.wait(Q, TIMEOUT)
    assert 0.15 <= time.monotonic() - started < PROMPT
    assert await store.lease(Q, visibility_timeout=60) != []


async def test_wait_wakes_when_a_lease_runs_out(store: Store) -> None:
    await store.enqueue(Q, "job", b"")
    await store.lease(Q, visibility_timeout=0.2)  # and the worker dies
    started = time.monotonic()
    await store.wait(Q, TIMEOUT)
    assert 0.15 <= time.monotonic() - started < PROMPT
    [lease] = await store.lease(Q, visibility_timeout=60)
    assert lease.attempts == 2


async def test_hurrying_on_another_store_wakes_the_waiter(backend: Backend) -> None:
    worker, other = await backend.open(), await backend.open()
    await other.enqueue(Q, "job", b"")
    [lease] = await other.lease(Q, visibility_timeout=60)
    await other.retry_in(lease, 60)
    waiter = await _start_waiting(worker)
    assert await other.hurry(Q, "job") is True
    assert await _seconds_until_done(waiter) < PROMPT
    assert [lease.item_id for lease in await worker.lease(Q, visibility_timeout=60)] == ["job"]
