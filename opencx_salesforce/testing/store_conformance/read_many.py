"""``get_many`` conformance (the optional :class:`ReadsMany`): several keys of a
namespace read in one call, each as ``get`` reads it. A store without the
method skips these tests (the Case service reads one key at a time without it);
every store shipped here has it."""

from __future__ import annotations

import asyncio
from typing import cast

from opencx_salesforce.store import Store
from opencx_salesforce.store.base import ReadsMany
from opencx_salesforce.testing.store_conformance.optional import require

__all__ = [
    "test_get_many_leaves_out_expired_keys",
    "test_get_many_reads_each_key_as_get_does",
    "test_get_many_reads_many_keys_at_once",
]

SHORT_TTL = 0.2
PAST_SHORT_TTL = 0.25


def reads_many(store: Store) -> ReadsMany:
    """``store`` as a :class:`ReadsMany` (skipped without it: :mod:`.optional`)."""
    require(store, "get_many")
    return cast("ReadsMany", store)  # what isinstance(ReadsMany) checks: the method


async def test_get_many_reads_each_key_as_get_does(store: Store) -> None:
    await store.set("a", "one", b"1")
    await store.set("a", "two", b"\x00\xff")
    await store.set("a", "three:x", b"")
    await store.set("b", "one", b"other namespace")
    await store.set("a:b", "one", b"a namespace with a colon")
    read = reads_many(store)
    found = await read.get_many("a", ["one", "two", "three:x", "missing", "one"])
    assert found == {"one": b"1", "two": b"\x00\xff", "three:x": b""}
    assert await read.get_many("b", ["one", "two"]) == {"one": b"other namespace"}
    assert await read.get_many("a", []) == {}
    assert await read.get_many("nowhere", ["one"]) == {}
    for key in ("one", "two", "three:x", "missing"):
        assert found.get(key) == await store.get("a", key)


async def test_get_many_leaves_out_expired_keys(store: Store) -> None:
    await store.set("ns", "short", b"s", ttl=SHORT_TTL)
    await store.set("ns", "long", b"l", ttl=60)
    await store.set("ns", "forever", b"f")
    read = reads_many(store)
    assert await read.get_many("ns", ["short", "long", "forever"]) == {
        "short": b"s",
        "long": b"l",
        "forever": b"f",
    }
    await asyncio.sleep(PAST_SHORT_TTL)
    assert await read.get_many("ns", ["short", "long", "forever"]) == {
        "long": b"l",
        "forever": b"f",
    }


async def test_get_many_reads_many_keys_at_once(store: Store) -> None:
    keys = [f"key-{n}" for n in range(1200)]
    await store.set_many("ns", {key: key.encode() for key in keys[::2]})
    found = await reads_many(store).get_many("ns", keys)
    assert found == {key: key.encode() for key in keys[::2]}
