"""``enqueue_leased`` conformance (the optional :class:`LeasingEnqueue`): an item
added already leased to its caller, in one write, whose lease then acts as any
other. A store without the method skips these tests (the outbox works without
it); every store shipped here has it."""

from __future__ import annotations

import asyncio
import time
from typing import cast

import pytest

from opencx_salesforce.store import ItemState, Store
from opencx_salesforce.store.base import LeasingEnqueue
from opencx_salesforce.testing.store_conformance.backend import Backend
from opencx_salesforce.testing.store_conformance.optional import require

__all__ = [
    "test_an_enqueue_leased_item_is_leased_again_only_after_its_lease_runs_out",
    "test_enqueue_leased_has_exactly_one_winner",
    "test_enqueue_leased_on_a_taken_id_writes_nothing",
    "test_enqueue_leased_returns_a_lease_and_shows_the_item_leased",
    "test_enqueue_leased_wakes_no_waiter_until_its_lease_runs_out",
    "test_its_lease_acks_retries_and_buries_like_any_other",
    "test_its_timeout_is_checked",
]

Q = "outbox"
LONG = 60.0
SHORT = 0.15
PAST_SHORT = 0.2


def leasing(store: Store) -> LeasingEnqueue:
    """``store`` as a :class:`LeasingEnqueue` (skipped without it: :mod:`.optional`)."""
    require(store, "enqueue_leased")
    return cast("LeasingEnqueue", store)  # what isinstance(LeasingEnqueue) checks: the method


async def test_enqueue_leased_returns_a_lease_and_shows_the_item_leased(store: Store) -> None:
    first = await leasing(store).enqueue_leased(Q, "job-1", b"one", visibility_timeout=LONG)
    second = await leasing(store).enqueue_leased(Q, "job-2", b"two", visibility_timeout=LONG)
    assert first is not None and second is not None
    assert (first.queue, first.item_id, first.payload, first.attempts) == (Q, "job-1", b"one", 1)
    assert first.age == pytest.approx(0.0, abs=1.0)
    assert first.token and first.token != second.token
    items = await store.items(Q)
    assert [(i.item_id, i.state, i.attempts) for i in items] == [
        ("job-1", ItemState.LEASED, 1),
        ("job-2", ItemState.LEASED, 1),
    ]
    assert items[0].enqueued_at == pytest.approx(time.time(), abs=5)
    assert items[0].available_at == pytest.approx(items[0].enqueued_at + LONG, abs=1.0)
    assert await store.lease(Q, visibility_timeout=LONG) == []


async def test_enqueue_leased_on_a_taken_id_writes_nothing(store: Store) -> None:
    await store.enqueue(Q, "dead", b"")
    [dead] = await store.lease(Q, visibility_timeout=LONG)
    await store.bury(dead, error="boom")
    await store.enqueue(Q, "ready", b"")
    await leasing(store).enqueue_leased(Q, "leased", b"", visibility_timeout=LONG)
    before = await store.items(Q)
    for item_id in ("ready", "leased", "dead"):
        again = await leasing(store).enqueue_leased(Q, item_id, b"x", visibility_timeout=LONG)
        assert again is None, item_id
    assert await store.items(Q) == before


async def test_an_enqueue_leased_item_is_leased_again_only_after_its_lease_runs_out(
    store: Store,
) -> None:
    first = await leasing(store).enqueue_leased(Q, "job", b"p", visibility_timeout=SHORT)
    assert first is not None
    assert await store.lease(Q, visibility_timeout=LONG) == []
    await asyncio.sleep(PAST_SHORT)
    assert [i.state for i in await store.items(Q)] == [ItemState.READY]
    [second] = await store.lease(Q, visibility_timeout=LONG)
    assert (second.item_id, second.payload, second.attempts) == ("job", b"p", 2)
    assert await store.ack(first) is False  # stale: the item was leased again
    assert await store.ack(second) is True


async def test_its_lease_acks_retries_and_buries_like_any_other(store: Store) -> None:
    done = await leasing(store).enqueue_leased(Q, "done", b"", visibility_timeout=LONG)
    later = await leasing(store).enqueue_leased(Q, "later", b"", visibility_timeout=LONG)
    dead = await leasing(store).enqueue_leased(Q, "dead", b"", visibility_timeout=LONG)
    assert done is not None and later is not None and dead is not None
    assert await store.ack(done) is True
    assert await store.retry_in(later, 0, error="503") is True
    assert await store.bury(dead, error="refused") is True
    shown = {i.item_id: (i.state, i.last_error) for i in await store.items(Q)}
    assert shown == {
        "later": (ItemState.READY, "503"),
        "dead": (ItemState.DEAD, "refused"),
    }
    [again] = await store.lease(Q, visibility_timeout=LONG)
    assert (again.item_id, again.attempts) == ("later", 2)


async def test_enqueue_leased_wakes_no_waiter_until_its_lease_runs_out(store: Store) -> None:
    leased = leasing(store)
    waiter = asyncio.create_task(store.wait(Q, 5.0))
    await asyncio.sleep(0.1)
    await leased.enqueue_leased(Q, "job", b"", visibility_timeout=0.6)
    await asyncio.sleep(0.3)
    assert not waiter.done(), "woken by an item nobody can take"
    waiter.cancel()
    # A wait (the next one: a waiter's timeout bounds how late it learns of the
    # new deadline) returns when the lease runs out, as for any lease.
    started = time.monotonic()
    await store.wait(Q, 5.0)
    assert 0.1 <= time.monotonic() - started < 1.5
    [again] = await store.lease(Q, visibility_timeout=LONG)
    assert again.attempts == 2


@pytest.mark.parametrize("timeout", [0.0, -1.0])
async def test_its_timeout_is_checked(store: Store, timeout: float) -> None:
    with pytest.raises(ValueError):
        await leasing(store).enqueue_leased(Q, "job", b"", visibility_timeout=timeout)
    assert await store.items(Q) == []


async def test_enqueue_leased_has_exactly_one_winner(backend: Backend) -> None:
    racers = [leasing(await backend.open()) for _ in range(20)]
    leases = await asyncio.gather(
        *(
            racer.enqueue_leased(Q, "contested", str(n).encode(), visibility_timeout=LONG)
            for n, racer in enumerate(racers)
        )
    )
    won = [lease for lease in leases if lease is not None]
    assert len(won) == 1
    [item] = await (await backend.open()).items(Q)
    assert (item.payload, item.attempts) == (won[0].payload, 1)
