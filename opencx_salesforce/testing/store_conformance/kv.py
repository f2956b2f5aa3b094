"""Key/value conformance: every backend reads, writes, expires and lists keys
the same way."""

from __future__ import annotations

import asyncio

import pytest

from opencx_salesforce.store import Store

__all__ = [
    "test_a_key_expires_after_its_ttl",
    "test_a_ttl_that_is_not_positive_is_refused",
    "test_an_expired_key_counts_as_absent_for_atomic_writes",
    "test_compare_and_set",
    "test_delete_reports_whether_a_key_was_there",
    "test_get_of_a_missing_key_is_none",
    "test_keys_are_sorted_and_filtered_by_prefix",
    "test_namespaces_do_not_share_keys",
    "test_set_if_absent_stores_only_the_first_value",
    "test_set_then_get_and_overwrite",
    "test_ttl_belongs_to_the_value_written",
    "test_values_are_bytes_round_tripped_exactly",
]

SHORT_TTL = 0.2
PAST_SHORT_TTL = 0.25


async def test_get_of_a_missing_key_is_none(store: Store) -> None:
    assert await store.get("ns", "missing") is None


async def test_set_then_get_and_overwrite(store: Store) -> None:
    await store.set("ns", "k", b"one")
    assert await store.get("ns", "k") == b"one"
    await store.set("ns", "k", b"two")
    assert await store.get("ns", "k") == b"two"


@pytest.mark.parametrize("value", [b"", b"\x00\xff\x00", "é✓".encode(), bytes(range(256))])
async def test_values_are_bytes_round_tripped_exactly(store: Store, value: bytes) -> None:
    await store.set("ns", "k", value)
    assert await store.get("ns", "k") == value


async def test_namespaces_do_not_share_keys(store: Store) -> None:
    await store.set("a", "k", b"in a")
    await store.set("b", "k", b"in b")
    # A colon in a namespace or a key must not make two pairs collide.
    await store.set("x:y", "z", b"ns x:y")
    await store.set("x", "y:z", b"ns x")
    assert await store.get("a", "k") == b"in a"
    assert await store.get("b", "k") == b"in b"
    assert await store.get("x:y", "z") == b"ns x:y"
    assert await store.get("x", "y:z") == b"ns x"
    assert await store.keys("x") == ["y:z"]
    assert await store.keys("x:y") == ["z"]


async def test_delete_reports_whether_a_key_was_there(store: Store) -> None:
    await store.set("ns", "k", b"v")
    assert await store.delete("ns", "k") is True
    assert await store.get("ns", "k") is None
    assert await store.delete("ns", "k") is False


async def test_keys_are_sorted_and_filtered_by_prefix(store: Store) -> None:
    for key in ["case:b", "case:a", "cursor:1", "case:c", "é", "other"]:
        await store.set("ns", key, b"v")
    await store.set("elsewhere", "case:z", b"v")
    assert await store.keys("ns") == ["case:a", "case:b", "case:c", "cursor:1", "other", "é"]
    assert await store.keys("ns", "case:") == ["case:a", "case:b", "case:c"]
    assert await store.keys("ns", "c") == ["case:a", "case:b", "case:c", "cursor:1"]
    assert await store.keys("ns", "nothing") == []
    assert await store.keys("empty-namespace") == []


async def test_set_if_absent_stores_only_the_first_value(store: Store) -> None:
    assert await store.set_if_absent("ns", "k", b"first") is True
    assert await store.set_if_absent("ns", "k", b"second") is False
    assert await store.get("ns", "k") == b"first"


async def test_compare_and_set(store: Store) -> None:
    # expected=None: the key must be absent.
    assert await store.compare_and_set("ns", "k", None, b"v1") is True
    assert await store.compare_and_set("ns", "k", None, b"other") is False
    # A wrong expected value changes nothing.
    assert await store.compare_and_set("ns", "k", b"wrong", b"v2") is False
    assert await store.get("ns", "k") == b"v1"
    assert await store.compare_and_set("ns", "k", b"v1", b"v2") is True
    assert await store.get("ns", "k") == b"v2"
    # new=None deletes, but only if the value matches.
    assert await store.compare_and_set("ns", "k", b"v1", None) is False
    assert await store.compare_and_set("ns", "k", b"v2", None) is True
    assert await store.get("ns", "k") is None
    assert await store.keys("ns") == []
    # None -> None: "it is absent" holds.
    assert await store.compare_and_set("ns", "k", None, None) is True
    await store.set("ns", "k", b"back")
    assert await store.compare_and_set("ns", "k", None, None) is False


async def test_a_key_expires_after_its_ttl(store: Store) -> None:
    await store.set("ns", "short", b"v", ttl=SHORT_TTL)
    await store.set("ns", "long", b"v", ttl=60)
    await store.set("ns", "forever", b"v")
    assert await store.get("ns", "short") == b"v"
    assert await store.keys("ns") == ["forever", "long", "short"]
    await asyncio.sleep(PAST_SHORT_TTL)
    assert await store.get("ns", "short") is None
    assert await store.get("ns", "long") == b"v"
    assert await store.keys("ns") == ["forever", "long"]
    assert await store.delete("ns", "short") is False


async def test_an_expired_key_counts_as_absent_for_atomic_writes(store: Store) -> None:
    await store.set("ns", "a", b"old", ttl=SHORT_TTL)
    await store.set("ns", "b", b"old", ttl=SHORT_TTL)
    await store.set("ns", "c", b"old", ttl=SHORT_TTL)
    await asyncio.sleep(PAST_SHORT_TTL)
    assert await store.set_if_absent("ns", "a", b"new") is True
    assert await store.get("ns", "a") == b"new"
    assert await store.compare_and_set("ns", "b", b"old", b"new") is False
    assert await store.compare_and_set("ns", "b", None, b"new") is True
    assert await store.get("ns", "b") == b"new"
    assert await store.compare_and_set("ns", "c", b"old", None) is False
    assert await store.compare_and_set("ns", "c", None, None) is True


async def test_ttl_belongs_to_the_value_written(store: Store) -> None:
    await store.set("ns", "k", b"v", ttl=SHORT_TTL)
    await store.set("ns", "k", b"v")  # no ttl: it now lives on
    assert await store.set_if_absent("ns", "lock", b"me", ttl=SHORT_TTL) is True
    assert await store.compare_and_set("ns", "cas", None, b"v", ttl=60) is True
    assert await store.compare_and_set("ns", "cas", b"v", b"w", ttl=SHORT_TTL) is True
    await asyncio.sleep(PAST_SHORT_TTL)
    assert await store.get("ns", "k") == b"v"
    assert await store.get("ns", "lock") is None
    assert await store.get("ns", "cas") is None


@pytest.mark.parametrize("ttl", [0, -1.0])
async def test_a_ttl_that_is_not_positive_is_refused(store: Store, ttl: float) -> None:
    with pytest.raises(ValueError, match="ttl"):
        await store.set("ns", "k", b"v", ttl=ttl)
    with pytest.raises(ValueError, match="ttl"):
        await store.set_if_absent("ns", "k", b"v", ttl=ttl)
    with pytest.raises(ValueError, match="ttl"):
        await store.compare_and_set("ns", "k", None, b"v", ttl=ttl)
    assert await store.get("ns", "k") is None
