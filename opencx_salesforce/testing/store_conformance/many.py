"""``set_many``: several pairs written as one, each as ``set`` would write it,
and never seen in part by a reader on another store object."""

from __future__ import annotations

import asyncio

import pytest

from opencx_salesforce.store import Store
from opencx_salesforce.testing.store_conformance.backend import Backend

__all__ = [
    "test_set_many_is_never_seen_in_part",
    "test_set_many_of_a_thousand_pairs",
    "test_set_many_with_a_ttl",
    "test_set_many_writes_every_pair_as_set_would",
]

SHORT_TTL = 0.2
PAST_SHORT_TTL = 0.25


async def test_set_many_writes_every_pair_as_set_would(store: Store) -> None:
    await store.set("ns", "old", b"before", ttl=SHORT_TTL)
    await store.set("other", "a", b"untouched")
    await store.set_many("ns", {"a": b"1", "old": b"after", "b:c": b"", "d": bytes(range(256))})
    await store.set_many("ns", {})  # nothing to write: nothing happens
    assert await store.get("ns", "a") == b"1"
    assert await store.get("ns", "b:c") == b""
    assert await store.get("ns", "d") == bytes(range(256))
    assert await store.get("other", "a") == b"untouched"
    assert await store.keys("ns") == ["a", "b:c", "d", "old"]
    # Written without a ttl: it outlives the ttl of the value it replaced.
    await asyncio.sleep(PAST_SHORT_TTL)
    assert await store.get("ns", "old") == b"after"


async def test_set_many_of_a_thousand_pairs(store: Store) -> None:
    # More than one statement's worth on a backend that bounds a statement's
    # parameters (SQLite), replacing some pairs and adding others.
    await store.set_many("ns", {f"k{n:04}": b"old" for n in range(0, 1000, 2)})
    await store.set_many("ns", {f"k{n:04}": str(n).encode() for n in range(1000)})
    keys = await store.keys("ns")
    assert keys == [f"k{n:04}" for n in range(1000)]
    assert [await store.get("ns", key) for key in keys[::97]] == [
        str(n).encode() for n in range(0, 1000, 97)
    ]


@pytest.mark.parametrize("ttl", [0, -1.0, float("nan")])
async def test_set_many_with_a_ttl(store: Store, ttl: float) -> None:
    with pytest.raises(ValueError):
        await store.set_many("ns", {"a": b"1", "b": b"2"}, ttl=ttl)
    assert await store.keys("ns") == []  # refused whole: nothing written

    await store.set_many("ns", {"a": b"1", "b": b"2"}, ttl=SHORT_TTL)
    await store.set("ns", "kept", b"k")
    assert await store.keys("ns") == ["a", "b", "kept"]
    await asyncio.sleep(PAST_SHORT_TTL)
    assert await store.get("ns", "a") is None
    assert await store.keys("ns") == ["kept"]
    assert await store.set_if_absent("ns", "b", b"new") is True


async def test_set_many_is_never_seen_in_part(backend: Backend) -> None:
    writer, reader = await backend.open(), await backend.open()
    rounds, width = 30, 8
    seen: list[int] = []

    async def write() -> None:
        for r in range(rounds):
            await writer.set_many("ns", {f"r{r:02}k{k}": b"v" for k in range(width)})

    async def read() -> None:
        while len(seen) < 2 or seen[-1] < rounds * width:
            seen.append(len(await reader.keys("ns")))
            await asyncio.sleep(0)

    await asyncio.wait_for(asyncio.gather(write(), read()), timeout=30)
    assert all(count % width == 0 for count in seen), seen
