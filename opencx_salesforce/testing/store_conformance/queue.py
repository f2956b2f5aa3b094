"""Queue conformance: enqueue, lease, ack, retry, bury and revive behave the same
on every backend."""

from __future__ import annotations

import asyncio
import time
from dataclasses import replace

import pytest

from opencx_salesforce.store import ItemState, Store

__all__ = [
    "test_a_forged_or_foreign_lease_does_nothing",
    "test_a_lapsed_lease_still_acts_until_another_worker_takes_the_item",
    "test_a_stale_lease_cannot_ack_retry_or_bury",
    "test_an_expired_lease_makes_the_item_ready_again",
    "test_an_item_id_stays_taken_in_every_state",
    "test_bury_keeps_the_item_dead_until_revived",
    "test_enqueue_is_idempotent_on_item_id",
    "test_items_lists_each_state_oldest_first",
    "test_lease_arguments_are_checked",
    "test_lease_takes_ready_items_oldest_available_at_first",
    "test_queues_are_separate",
    "test_retry_at_puts_the_item_back_for_later",
    "test_revive_only_acts_on_dead_items",
]

Q = "outbox"
LONG = 60.0  # a visibility timeout no test outlives
SHORT = 0.15  # a lease that runs out within the test
PAST_SHORT = 0.2


async def test_enqueue_is_idempotent_on_item_id(store: Store) -> None:
    assert await store.enqueue(Q, "job-1", b"first") is True
    assert await store.enqueue(Q, "job-1", b"second") is False
    [item] = await store.items(Q)
    assert (item.item_id, item.payload, item.state, item.attempts) == (
        "job-1",
        b"first",
        ItemState.READY,
        0,
    )
    assert item.last_error is None
    assert item.enqueued_at == pytest.approx(time.time(), abs=5)
    assert item.available_at == pytest.approx(item.enqueued_at, abs=0.01)


async def test_an_item_id_stays_taken_in_every_state(store: Store) -> None:
    await store.enqueue(Q, "leased", b"")
    await store.lease(Q, visibility_timeout=LONG)
    await store.enqueue(Q, "dead", b"")
    [lease] = await store.lease(Q, visibility_timeout=LONG)
    await store.bury(lease, error="boom")
    assert await store.enqueue(Q, "leased", b"again") is False
    assert await store.enqueue(Q, "dead", b"again") is False
    # Once acked the item is gone, and its id is free again.
    await store.enqueue(Q, "done", b"")
    [lease] = await store.lease(Q, visibility_timeout=LONG)
    assert await store.ack(lease) is True
    assert await store.enqueue(Q, "done", b"again") is True


async def test_lease_takes_ready_items_oldest_available_at_first(store: Store) -> None:
    now = time.time()
    await store.enqueue(Q, "newest", b"n", available_at=now - 1)
    await store.enqueue(Q, "oldest", b"o", available_at=now - 3)
    await store.enqueue(Q, "future", b"f", available_at=now + 60)
    await store.enqueue(Q, "middle", b"m", available_at=now - 2)
    leases = await store.lease(Q, visibility_timeout=LONG, limit=2)
    assert [(lease.item_id, lease.payload) for lease in leases] == [
        ("oldest", b"o"),
        ("middle", b"m"),
    ]
    assert all(lease.queue == Q and lease.attempts == 1 for lease in leases)
    assert len({lease.token for lease in leases}) == 2
    # Leased items are hidden; the future one is not ready yet.
    [lease] = await store.lease(Q, visibility_timeout=LONG, limit=10)
    assert lease.item_id == "newest"
    assert await store.lease(Q, visibility_timeout=LONG, limit=10) == []


async def test_queues_are_separate(store: Store) -> None:
    await store.enqueue("a", "same-id", b"in a")
    assert await store.enqueue("b", "same-id", b"in b") is True
    [lease] = await store.lease("b", visibility_timeout=LONG)
    assert lease.payload == b"in b"
    assert [item.item_id for item in await store.items("a")] == ["same-id"]
    assert await store.lease("empty", visibility_timeout=LONG) == []
    assert await store.items("empty") == []


async def test_an_expired_lease_makes_the_item_ready_again(store: Store) -> None:
    await store.enqueue(Q, "job", b"p")
    [first] = await store.lease(Q, visibility_timeout=SHORT)
    assert first.attempts == 1
    assert await store.lease(Q, visibility_timeout=SHORT) == []
    [item] = await store.items(Q)
    assert item.state is ItemState.LEASED
    assert item.available_at == pytest.approx(time.time() + SHORT, abs=0.1)

    await asyncio.sleep(PAST_SHORT)  # the worker "crashed"
    assert [item.state for item in await store.items(Q)] == [ItemState.READY]
    [second] = await store.lease(Q, visibility_timeout=LONG)
    assert (second.item_id, second.payload, second.attempts) == ("job", b"p", 2)
    assert second.token != first.token
    assert [item.attempts for item in await store.items(Q, ItemState.LEASED)] == [2]


async def test_a_stale_lease_cannot_ack_retry_or_bury(store: Store) -> None:
    await store.enqueue(Q, "job", b"p")
    [stale] = await store.lease(Q, visibility_timeout=SHORT)
    await asyncio.sleep(PAST_SHORT)
    [current] = await store.lease(Q, visibility_timeout=LONG)
    assert await store.ack(stale) is False
    assert await store.retry_at(stale, time.time(), error="late") is False
    assert await store.bury(stale, error="late") is False
    [item] = await store.items(Q)
    assert (item.state, item.last_error) == (ItemState.LEASED, None)
    assert await store.ack(current) is True
    assert await store.items(Q) == []
    assert await store.ack(current) is False  # twice is not twice the work


async def test_a_lapsed_lease_still_acts_until_another_worker_takes_the_item(
    store: Store,
) -> None:
    await store.enqueue(Q, "job", b"p")
    [slow] = await store.lease(Q, visibility_timeout=SHORT)
    await asyncio.sleep(PAST_SHORT)
    assert await store.ack(slow) is True
    assert await store.lease(Q, visibility_timeout=LONG) == []


async def test_a_forged_or_foreign_lease_does_nothing(store: Store) -> None:
    await store.enqueue(Q, "job", b"p")
    [lease] = await store.lease(Q, visibility_timeout=LONG)
    assert await store.ack(replace(lease, token="forged")) is False
    assert await store.ack(replace(lease, queue="other")) is False
    assert await store.ack(replace(lease, item_id="other")) is False
    assert await store.ack(lease) is True


async def test_retry_at_puts_the_item_back_for_later(store: Store) -> None:
    await store.enqueue(Q, "job", b"p")
    [lease] = await store.lease(Q, visibility_timeout=LONG)
    later = time.time() + PAST_SHORT
    assert await store.retry_at(lease, later, error="503 from Salesforce") is True
    assert await store.retry_at(lease, later) is False  # the lease ended
    [item] = await store.items(Q)
    assert (item.state, item.attempts, item.last_error) == (
        ItemState.READY,
        1,
        "503 from Salesforce",
    )
    assert item.available_at == pytest.approx(later, abs=1e-3)
    assert await store.lease(Q, visibility_timeout=LONG) == []

    await asyncio.sleep(PAST_SHORT + 0.05)
    [again] = await store.lease(Q, visibility_timeout=LONG)
    assert again.attempts == 2
    # error=None keeps the last error on record.
    assert await store.retry_at(again, time.time()) is True
    [item] = await store.items(Q)
    assert item.last_error == "503 from Salesforce"
    [third] = await store.lease(Q, visibility_timeout=LONG)
    assert await store.retry_at(third, time.time(), error="timeout") is True
    assert [item.last_error for item in await store.items(Q)] == ["timeout"]


async def test_bury_keeps_the_item_dead_until_revived(store: Store) -> None:
    await store.enqueue(Q, "job", b"p")
    [lease] = await store.lease(Q, visibility_timeout=SHORT)
    assert await store.bury(lease, error="INVALID_FIELD: Subject") is True
    assert await store.bury(lease, error="again") is False
    await asyncio.sleep(PAST_SHORT)  # past the old lease: still dead
    assert await store.lease(Q, visibility_timeout=LONG) == []
    [item] = await store.items(Q)
    assert (item.state, item.attempts, item.last_error) == (
        ItemState.DEAD,
        1,
        "INVALID_FIELD: Subject",
    )
    assert item.available_at == pytest.approx(time.time() - PAST_SHORT, abs=0.2)  # buried at

    assert await store.revive(Q, "job") is True
    assert await store.revive(Q, "job") is False  # no longer dead
    [item] = await store.items(Q)
    assert (item.state, item.last_error) == (ItemState.READY, "INVALID_FIELD: Subject")
    [lease] = await store.lease(Q, visibility_timeout=LONG)
    assert (lease.item_id, lease.payload, lease.attempts) == ("job", b"p", 2)


async def test_revive_only_acts_on_dead_items(store: Store) -> None:
    await store.enqueue(Q, "ready", b"")
    assert await store.revive(Q, "ready") is False
    assert await store.revive(Q, "unknown") is False
    [lease] = await store.lease(Q, visibility_timeout=LONG)
    assert await store.revive(Q, "ready") is False
    assert await store.ack(lease) is True


async def test_items_lists_each_state_oldest_first(store: Store) -> None:
    for item_id in ["a", "b", "c", "d", "e"]:
        await store.enqueue(Q, item_id, item_id.encode())
    await store.enqueue(Q, "f", b"f", available_at=time.time() + 60)
    leases = {
        lease.item_id: lease for lease in await store.lease(Q, visibility_timeout=LONG, limit=3)
    }
    assert sorted(leases) == ["a", "b", "c"]
    await store.bury(leases["b"], error="dead")
    await store.retry_at(leases["c"], time.time() + 60, error="later")

    everything = await store.items(Q)
    assert [(item.item_id, item.state) for item in everything] == [
        ("a", ItemState.LEASED),
        ("b", ItemState.DEAD),
        ("c", ItemState.READY),
        ("d", ItemState.READY),
        ("e", ItemState.READY),
        ("f", ItemState.READY),
    ]
    assert [item.payload for item in everything] == [b"a", b"b", b"c", b"d", b"e", b"f"]
    assert [item.item_id for item in await store.items(Q, ItemState.READY)] == ["c", "d", "e", "f"]
    assert [item.item_id for item in await store.items(Q, ItemState.LEASED)] == ["a"]
    assert [item.item_id for item in await store.items(Q, ItemState.DEAD)] == ["b"]
    enqueued = [item.enqueued_at for item in everything]
    assert enqueued == sorted(enqueued)


async def test_lease_arguments_are_checked(store: Store) -> None:
    with pytest.raises(ValueError, match="visibility_timeout"):
        await store.lease(Q, visibility_timeout=0)
    with pytest.raises(ValueError, match="limit"):
        await store.lease(Q, visibility_timeout=LONG, limit=0)
