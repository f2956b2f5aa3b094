"""Races: many callers at once get exactly one winner, and no update or item is
lost or doubled. For SQLite and Redis every racer is a separate store (its own
connection), as separate host instances would be."""

from __future__ import annotations

import asyncio
from collections import Counter

from opencx_salesforce.store import Store
from opencx_salesforce.testing.store_conformance.backend import Backend

__all__ = [
    "test_compare_and_set_has_exactly_one_winner",
    "test_compare_and_set_loses_no_increment",
    "test_concurrent_workers_lease_each_item_exactly_once",
    "test_set_if_absent_has_exactly_one_winner",
]

RACERS = 50


async def _racers(backend: Backend) -> list[Store]:
    return [await backend.open() for _ in range(RACERS)]


async def test_set_if_absent_has_exactly_one_winner(backend: Backend) -> None:
    racers = await _racers(backend)
    won = await asyncio.gather(
        *(
            store.set_if_absent("locks", "case:42", str(i).encode())
            for i, store in enumerate(racers)
        )
    )
    assert won.count(True) == 1
    winner = won.index(True)
    for store in (racers[0], racers[-1]):
        assert await store.get("locks", "case:42") == str(winner).encode()


async def test_compare_and_set_has_exactly_one_winner(backend: Backend) -> None:
    racers = await _racers(backend)
    await racers[0].set("state", "cursor", b"v0")
    won = await asyncio.gather(
        *(
            store.compare_and_set("state", "cursor", b"v0", f"v1-{i}".encode())
            for i, store in enumerate(racers)
        )
    )
    assert won.count(True) == 1
    assert await racers[-1].get("state", "cursor") == f"v1-{won.index(True)}".encode()


async def test_compare_and_set_loses_no_increment(backend: Backend) -> None:
    racers = await _racers(backend)

    async def increment(store: Store) -> None:
        while True:
            current = await store.get("counters", "n")
            new = str(int(current or b"0") + 1).encode()
            if await store.compare_and_set("counters", "n", current, new):
                return

    await asyncio.gather(*(increment(store) for store in racers))
    assert await racers[0].get("counters", "n") == str(RACERS).encode()


async def test_concurrent_workers_lease_each_item_exactly_once(backend: Backend) -> None:
    items = [f"job-{n:03}" for n in range(80)]
    first = await backend.open()
    for item_id in items:
        await first.enqueue("work", item_id, item_id.encode())
    racers = await _racers(backend)

    async def worker(store: Store, limit: int) -> list[str]:
        taken = []
        while leases := await store.lease("work", visibility_timeout=60, limit=limit):
            for lease in leases:
                assert lease.payload == lease.item_id.encode()
                assert lease.attempts == 1
                taken.append(lease.item_id)
                assert await store.ack(lease) is True
        return taken

    taken = await asyncio.gather(
        *(worker(store, limit=1 + i % 3) for i, store in enumerate(racers))
    )
    counts = Counter(item_id for batch in taken for item_id in batch)
    assert sorted(counts) == items
    assert set(counts.values()) == {1}
    assert await first.items("work") == []
