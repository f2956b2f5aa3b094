"""The store lock: one holder at a time across instances, released on exit, and
a claim started early (to share a write's wait) that is then held or given up."""

from __future__ import annotations

import asyncio

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


async def test_a_renewed_lock_is_kept_past_its_ttl_and_released_after() -> None:
    store = MemoryStore()
    async with store_lock(store, "sweep", 0.2, renew_every=0.05):
        await asyncio.sleep(0.5)  # past the ttl more than twice
        with pytest.raises(LockBusy):
            async with store_lock(store, "sweep", 0.2):
                pass
    assert await LockClaim.start(store, "sweep", 0.2).taken  # released: free to take


@pytest.mark.parametrize("steps", range(12))
async def test_a_holder_cancelled_at_any_step_ends_cancelled(steps: int) -> None:
    # Cancelled as it stopped its renewal, the holder swallowed the cancel (a
    # suppress(CancelledError) around awaiting the renewal): the sweep, asked
    # to stop, went on to its next wait, and the host's stop waited for ever.
    store = MemoryStore()

    async def hold() -> None:
        async with store_lock(store, "sweep", 10.0, renew_every=5.0):
            await asyncio.sleep(0)
        await asyncio.Event().wait()  # what a sweep loop does next: wait

    task = asyncio.create_task(hold())
    for _ in range(steps):
        await asyncio.sleep(0)
    task.cancel()
    done, _ = await asyncio.wait([task], timeout=1.0)
    assert done, f"the holder swallowed its cancel after {steps} steps"
    assert task.cancelled()


class WritesLand(MemoryStore):
    """A store held at ``gate`` until the test opens it. A claim
    (``set_if_absent``) lands once begun, whether or not its caller waits for
    the answer (a request to Redis in flight, a SQLite batch under way); a
    compare-and-set whose caller is cancelled before the gate opens is not
    made (a SQLite unit whose batch had not started)."""

    def __init__(self) -> None:
        super().__init__()
        self.gate = asyncio.Event()

    async def set_if_absent(
        self, ns: str, key: str, value: bytes, *, ttl: float | None = None
    ) -> bool:
        async def later() -> bool:
            await self.gate.wait()
            return await MemoryStore.set_if_absent(self, ns, key, value, ttl=ttl)

        return await asyncio.shield(asyncio.ensure_future(later()))

    async def compare_and_set(
        self,
        ns: str,
        key: str,
        expected: bytes | None,
        new: bytes | None,
        *,
        ttl: float | None = None,
    ) -> bool:
        await self.gate.wait()
        return await MemoryStore.compare_and_set(self, ns, key, expected, new, ttl=ttl)


async def test_a_holder_cancelled_while_claiming_leaves_no_lock_behind() -> None:
    # Cancelled (a stop) while its claim's write was in flight, the holder went
    # away; the write landed after and nobody released it: the contact's
    # handoffs, or every instance's sweep, waited out the lock's ttl.
    store = WritesLand()
    entered = False

    async def hold() -> None:
        nonlocal entered
        async with store_lock(store, "contact:a", 60):
            entered = True  # pragma: no cover - cancelled before

    task = asyncio.create_task(hold())
    await asyncio.sleep(0.01)
    task.cancel()
    await asyncio.wait([task])
    assert task.cancelled() and not entered
    store.gate.set()
    await asyncio.sleep(0.05)  # the claim's write lands; then its release
    assert await MemoryStore.get(store, LOCKS_NS, "contact:a") is None, (
        "the claim that landed after its holder left was never released"
    )


async def test_a_holder_cancelled_while_releasing_still_releases() -> None:
    store = WritesLand()
    store.gate.set()
    held = asyncio.Event()
    leave = asyncio.Event()

    async def hold() -> None:
        async with store_lock(store, "contact:a", 60):
            held.set()
            await leave.wait()

    task = asyncio.create_task(hold())
    await held.wait()
    store.gate.clear()  # the release's write will wait
    leave.set()
    await asyncio.sleep(0.01)  # now releasing
    task.cancel()
    await asyncio.wait([task])
    store.gate.set()
    await asyncio.sleep(0.05)  # the release's write lands
    assert await MemoryStore.get(store, LOCKS_NS, "contact:a") is None
