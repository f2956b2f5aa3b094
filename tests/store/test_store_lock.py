"""The store lock: one holder at a time across instances, released on exit, and
a claim started early (to share a write's wait) that is then held or given up."""

from __future__ import annotations

import pytest

from opencx_salesforce.errors import LockBusy
from opencx_salesforce.store.lock import LOCKS_NS, LockClaim, store_lock
from opencx_salesforce.store.memory import MemoryStore


async def test_a_held_lock_is_busy_for_another_and_free_after() -> None:
    store = MemoryStore()
    async with store_lock(store, "contact:a", 60):
        with pytest.raises(LockBusy):
            async with store_lock(store, "contact:a", 60):
                pass  # pragma: no cover - never entered
        async with store_lock(store, "contact:b", 60):
            pass  # another name is another lock
    assert await store.get(LOCKS_NS, "contact:a") is None
    async with store_lock(store, "contact:a", 60):
        pass


async def test_a_claim_started_early_is_held_then_released() -> None:
    store = MemoryStore()
    claim = LockClaim.start(store, "contact:a", 60)
    assert await claim.taken
    async with store_lock(store, "contact:a", 60, claim=claim):
        assert await store.get(LOCKS_NS, "contact:a") == claim.token
    assert await store.get(LOCKS_NS, "contact:a") is None


async def test_a_claim_that_lost_raises_busy_and_leaves_the_holders_lock() -> None:
    store = MemoryStore()
    async with store_lock(store, "contact:a", 60):
        held = await store.get(LOCKS_NS, "contact:a")
        late = LockClaim.start(store, "contact:a", 60)
        with pytest.raises(LockBusy):
            async with store_lock(store, "contact:a", 60, claim=late):
                pass  # pragma: no cover - never entered
        await late.abandon()
        assert await store.get(LOCKS_NS, "contact:a") == held


async def test_an_abandoned_claim_frees_the_lock_it_took() -> None:
    store = MemoryStore()
    claim = LockClaim.start(store, "contact:a", 60)
    await claim.abandon()
    assert await store.get(LOCKS_NS, "contact:a") is None
    async with store_lock(store, "contact:a", 60):
        pass
