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
    "test_hurry_makes_only_a_waiting_item_due_now",
    "test_items_lists_each_state_oldest_first",
    "test_lease_arguments_are_checked",
    "test_lease_reports_the_age_and_revive_starts_it_anew",
    "test_lease_takes_due_items_earliest_due_first",
    "test_negative_delays_are_refused_and_write_nothing",
    "test_queues_are_separate",
    "test_retry_in_puts_the_item_back_for_later",
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


async def test_lease_takes_due_items_earliest_due_first(store: Store) -> None:
    # Enqueued in another order than they come due (delays on the store's clock).
    await store.enqueue(Q, "newest", b"n", delay=0.2)
    await store.enqueue(Q, "oldest", b"o", delay=0.0)
    await store.enqueue(Q, "future", b"f", delay=60)
    await store.enqueue(Q, "middle", b"m", delay=0.1)
    await asyncio.sleep(PAST_SHORT + 0.05)
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
    assert await store.retry_in(stale, 0, error="late") is False
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


async def test_retry_in_puts_the_item_back_for_later(store: Store) -> None:
    await store.enqueue(Q, "job", b"p")
    [lease] = await store.lease(Q, visibility_timeout=LONG)
    later = time.time() + PAST_SHORT
    assert await store.retry_in(lease, PAST_SHORT, error="503 from Salesforce") is True
    assert await store.retry_in(lease, PAST_SHORT) is False  # the lease ended
    [item] = await store.items(Q)
    assert (item.state, item.attempts, item.last_error) == (
        ItemState.READY,
        1,
        "503 from Salesforce",
    )
    # The store's clock (a server's) may differ a little from this process's.
    assert item.available_at == pytest.approx(later, abs=0.1)
    assert await store.lease(Q, visibility_timeout=LONG) == []

    await asyncio.sleep(PAST_SHORT + 0.05)
    [again] = await store.lease(Q, visibility_timeout=LONG)
    assert again.attempts == 2
    # error=None keeps the last error on record.
    assert await store.retry_in(again, 0) is True
    [item] = await store.items(Q)
    assert item.last_error == "503 from Salesforce"
    [third] = await store.lease(Q, visibility_timeout=LONG)
    assert await store.retry_in(third, 0, error="timeout") is True
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
    await store.enqueue(Q, "f", b"f", delay=60)
    leases = {
        lease.item_id: lease for lease in await store.lease(Q, visibility_timeout=LONG, limit=3)
    }
    assert sorted(leases) == ["a", "b", "c"]
    await store.bury(leases["b"], error="dead")
    await store.retry_in(leases["c"], 60, error="later")

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


async def test_negative_delays_are_refused_and_write_nothing(store: Store) -> None:
    # A negative delay would be an instant on the caller's clock in disguise.
    with pytest.raises(ValueError, match="delay"):
        await store.enqueue(Q, "job", b"p", delay=-1)
    assert await store.items(Q) == []
    await store.enqueue(Q, "job", b"p")
    [lease] = await store.lease(Q, visibility_timeout=LONG)
    with pytest.raises(ValueError, match="delay"):
        await store.retry_in(lease, -5)
    [item] = await store.items(Q)
    assert item.state is ItemState.LEASED
    assert await store.ack(lease) is True


async def test_lease_reports_the_age_and_revive_starts_it_anew(store: Store) -> None:
    await store.enqueue(Q, "job", b"p")
    await asyncio.sleep(PAST_SHORT)
    [lease] = await store.lease(Q, visibility_timeout=LONG)
    assert lease.age == pytest.approx(PAST_SHORT, abs=0.15)
    await store.bury(lease, error="gave up")
    await asyncio.sleep(PAST_SHORT)
    before = await store.items(Q)
    assert await store.revive(Q, "job") is True
    # Its clock starts over: enqueued now, and its next lease is young.
    [item] = await store.items(Q)
    assert item.enqueued_at >= before[0].enqueued_at + PAST_SHORT - 0.05
    [again] = await store.lease(Q, visibility_timeout=LONG)
    assert again.age < PAST_SHORT
    assert again.attempts == 2


async def test_hurry_makes_only_a_waiting_item_due_now(store: Store) -> None:
    await store.enqueue(Q, "waiting", b"w")
    [lease] = await store.lease(Q, visibility_timeout=LONG)
    await store.retry_in(lease, LONG, error="NeedsReauthorization: reconnect")
    await store.enqueue(Q, "due", b"d")
    await store.enqueue(Q, "leased", b"l", delay=0)
    await store.enqueue(Q, "dead", b"x")
    assert await store.hurry(Q, "due") is False
    [first, second, third] = await store.lease(Q, visibility_timeout=LONG, limit=3)
    assert [first.item_id, second.item_id, third.item_id] == ["due", "leased", "dead"]
    await store.retry_in(first, 0)
    await store.bury(third, error="boom")
    assert await store.hurry(Q, "leased") is False
    assert await store.hurry(Q, "dead") is False
    assert await store.hurry(Q, "unknown") is False

    assert await store.hurry(Q, "waiting") is True
    assert await store.hurry(Q, "waiting") is False  # due now: nothing more to do
    leases = await store.lease(Q, visibility_timeout=LONG, limit=5)
    assert sorted(lease.item_id for lease in leases) == ["due", "waiting"]
    waiting = next(lease for lease in leases if lease.item_id == "waiting")
    assert waiting.attempts == 2
    errors = {item.item_id: item.last_error for item in await store.items(Q)}
    assert errors["waiting"] == "NeedsReauthorization: reconnect"
