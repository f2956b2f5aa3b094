"""What an idle sweep costs the store does not grow with the Cases closed: it asks
the list of open Cases (cases/open_cases.py), not every Case the plugin ever
made (one read per Case: ten seconds a sweep at 300,000 closed Cases on SQLite,
a Redis blocked for a second). Counted in store calls, not timed.

And the list errs on "open": a marker left by a crash between two writes costs
a sweep its call and is cleared; a store from an earlier release (entries, no
markers) has its markers built once."""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import asdict
from typing import Any

from replies_support import World, WorldFactory

from opencx_salesforce.cases.index import NS as CASES
from opencx_salesforce.cases.index import CaseEntry, CaseIndex, SessionCase
from opencx_salesforce.cases.open_cases import NS as OPEN_CASES
from opencx_salesforce.cases.open_cases import PREFIX
from opencx_salesforce.store.memory import MemoryStore

CLOSED = 500


class CountingStore:
    """The memory store, its reads counted (one a call, whatever it returns)."""

    def __init__(self) -> None:
        self.inner = MemoryStore()
        self.reads: Counter[str] = Counter()

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    async def get(self, ns: str, key: str) -> bytes | None:
        self.reads["get"] += 1
        return await self.inner.get(ns, key)

    async def get_many(self, ns: str, keys: list[str]) -> dict[str, bytes]:
        self.reads["get_many"] += 1
        return await self.inner.get_many(ns, keys)

    async def keys(self, ns: str, prefix: str = "") -> list[str]:
        self.reads["keys"] += 1
        return await self.inner.keys(ns, prefix)


async def _world(make_world: WorldFactory) -> tuple[World, CountingStore]:
    store = CountingStore()
    world = await make_world(store=store)
    await world.start_node()
    return world, store


async def _case(index: CaseIndex, n: int, *, closed: bool) -> str:
    """A Case as a handoff leaves it in the index, then closed as a read of it
    would close it."""
    case_id = f"500{n:015d}"
    ref = SessionCase(case_id=case_id, external_id=f"ext-{n}")
    await index.link_session(f"session-{n}", ref, f"contact-{n}", new_case=True)
    if closed:
        await index.mark_closed(case_id)
    return case_id


async def _reads_of_one_idle_sweep(world: World, store: CountingStore) -> int:
    sweeper = world.node.runtime.sweeper
    await sweeper.run_once()  # the first after a start may build the list, once
    store.reads.clear()
    report = await sweeper.run_once()
    assert report is not None and report.idle and report.api_calls == 0
    return sum(store.reads.values())


async def test_an_idle_sweep_reads_the_store_as_much_with_500_closed_cases_as_with_none(
    make_world: WorldFactory,
) -> None:
    empty, empty_store = await _world(make_world)
    baseline = await _reads_of_one_idle_sweep(empty, empty_store)

    world, store = await _world(make_world)
    index = world.node.runtime.index
    for n in range(CLOSED):
        await _case(index, n, closed=True)
    assert await _reads_of_one_idle_sweep(world, store) == baseline
    assert baseline == 1  # the list of open Cases, empty


async def test_the_open_check_reads_as_much_with_500_closed_cases_beside_an_open_one(
    make_world: WorldFactory,
) -> None:
    async def reads(closed: int) -> int:
        world, store = await _world(make_world)
        index = world.node.runtime.index
        await _case(index, CLOSED, closed=False)
        for n in range(closed):
            await _case(index, n, closed=True)
        replies = world.node.runtime.replies
        assert await replies.has_open_case()
        store.reads.clear()
        assert await replies.has_open_case()
        return sum(store.reads.values())

    assert await reads(CLOSED) == await reads(0) == 1  # the open Case found last


async def test_a_case_closed_and_reopened_is_listed_while_open(
    make_world: WorldFactory,
) -> None:
    world, _ = await _world(make_world)
    index, replies = world.node.runtime.index, world.node.runtime.replies
    case_id = await _case(index, 1, closed=False)
    assert await index.open.marked() == [case_id]
    await index.mark_closed(case_id)
    assert await index.open.marked() == []
    assert not await replies.has_open_case()
    await index.mark_closed(case_id, False)  # a rep reopened it
    assert await index.open.marked() == [case_id]
    assert await replies.has_open_case()


async def test_a_marker_left_by_a_crash_errs_on_open_and_is_cleared_once_seen_closed(
    make_world: WorldFactory,
) -> None:
    world, store = await _world(make_world)
    index, replies = world.node.runtime.index, world.node.runtime.replies
    # A crash after the marker, before the handoff's entry: maybe open.
    await index.open.mark(["500000000000000AAA"])
    assert await replies.has_open_case()
    assert await index.open.marked() == ["500000000000000AAA"]
    await store.inner.delete(OPEN_CASES, PREFIX + "500000000000000AAA")
    # A crash after the entry said closed, before the marker went: the next
    # look finds the entry closed and clears it.
    case_id = await _case(index, 2, closed=False)
    entry = asdict(CaseEntry(sessions=["session-2"], closed=True))
    await store.inner.set(CASES, f"case:{case_id}", json.dumps(entry).encode())
    assert await index.open.marked() == [case_id]
    assert not await replies.has_open_case()
    assert await index.open.marked() == []


async def test_a_store_from_an_earlier_release_has_its_open_cases_listed_once(
    make_world: WorldFactory,
) -> None:
    store = CountingStore()
    # Entries as an earlier release wrote them: no markers.
    for n in range(CLOSED + 1):
        entry = asdict(CaseEntry(sessions=[f"s-{n}"], closed=n != 7))
        await store.inner.set(CASES, f"case:500{n:015d}", json.dumps(entry).encode())
    world = await make_world(store=store)
    await world.start_node()  # its start sweep builds the list
    replies = world.node.runtime.replies
    assert await world.node.runtime.index.open.marked() == [f"500{7:015d}"]
    assert await replies.has_open_case()
    # Built once for every instance: a new one reads the list only.
    fresh = CaseIndex(store)  # type: ignore[arg-type]
    store.reads.clear()
    assert await fresh.marked_open() == [f"500{7:015d}"]
    assert sum(store.reads.values()) == 2  # the "built" key, the list
