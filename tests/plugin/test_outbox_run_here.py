"""A job submitted while the outbox runs with a free slot starts in the
submitting process: written already leased to it (one store write), no worker
woken, no lease taken. It keeps every guarantee of a queued job: done once,
retried through the store, and taken over by another instance if this one
stops or dies."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from opencx_salesforce.errors import RetryLater
from opencx_salesforce.outbox import EncodedJSON, Job, Outbox, OutboxSettings, Submitted
from opencx_salesforce.store.base import ItemState, Store
from opencx_salesforce.store.memory import MemoryStore
from opencx_salesforce.store.sqlite import SQLiteStore

Q = "run-here.test"


class Counted:
    """A store that counts the calls asked of it, by name."""

    def __init__(self, inner: Store) -> None:
        self.inner = inner
        self.calls: dict[str, int] = {}

    def __getattr__(self, name: str) -> Any:
        method = getattr(self.inner, name)
        if name not in ("lease", "enqueue", "enqueue_leased"):
            return method

        async def counted(*args: Any, **kwargs: Any) -> Any:
            self.calls[name] = self.calls.get(name, 0) + 1
            return await method(*args, **kwargs)

        return counted


@pytest.fixture(params=["memory", "sqlite"])
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> Any:
    if request.param == "memory":
        yield MemoryStore()
        return
    lite = await SQLiteStore.open(f"sqlite:///{tmp_path / 'here.db'}")
    try:
        yield lite
    finally:
        await lite.close()


def outbox_on(store: Any, handler: Any, **settings: Any) -> Outbox:
    values: dict[str, Any] = {"concurrency": 2, "idle_wait": 30.0, **settings}
    return Outbox(store, queue=Q, handlers={"work": handler}, settings=OutboxSettings(**values))


async def test_a_job_submitted_to_a_running_outbox_starts_here_without_a_lease(
    store: Store,
) -> None:
    counted = Counted(store)
    done: list[str] = []
    finished = asyncio.Event()

    async def handler(job: Job) -> None:
        done.append(job.item_id)
        finished.set()

    outbox = outbox_on(counted, handler)
    outbox.start()
    try:
        await asyncio.sleep(0.2)  # the workers looked once and wait
        before = dict(counted.calls)
        assert outbox.may_run_here()
        assert await outbox.submit("work", "job-1", {"n": 1}) is Submitted.STARTED_HERE
        assert outbox.running_here("job-1")
        assert await outbox.submit("work", "job-1", {}) is Submitted.ALREADY_QUEUED
        await asyncio.wait_for(finished.wait(), 5)
        for _ in range(50):  # its ack
            if not outbox.running_here("job-1"):
                break
            await asyncio.sleep(0.05)
        assert done == ["job-1"]
        assert counted.calls.get("lease", 0) == before.get("lease", 0)  # no lease, no wake
        assert counted.calls.get("enqueue_leased") == 2  # the job, then its duplicate
        assert await store.items(Q) == []  # acked
        assert not outbox.running_here("job-1")
        assert await outbox.submit("work", "job-1", {"n": 1})  # its id freed
    finally:
        await outbox.stop()


async def test_with_every_slot_busy_the_next_job_is_queued_for_a_worker(store: Store) -> None:
    release = asyncio.Event()
    started: list[str] = []

    async def handler(job: Job) -> None:
        started.append(job.item_id)
        await release.wait()

    outbox = outbox_on(store, handler, concurrency=1)
    outbox.start()
    try:
        await outbox.submit("work", "first", {})
        await asyncio.sleep(0.1)
        assert not outbox.may_run_here()
        assert await outbox.submit("work", "second", {}) is Submitted.QUEUED
        assert not outbox.running_here("second")
        await asyncio.sleep(0.2)
        assert started == ["first"]  # the one slot is taken: "second" waits
        shown = {i.item_id: i.state for i in await store.items(Q)}
        assert shown == {"first": ItemState.LEASED, "second": ItemState.READY}
        release.set()
        for _ in range(50):
            if not await store.items(Q):
                break
            await asyncio.sleep(0.05)
        assert started == ["first", "second"]
    finally:
        release.set()
        await outbox.stop()


async def test_a_job_submitted_while_stopped_is_queued_for_run_until_idle(store: Store) -> None:
    done: list[str] = []

    async def handler(job: Job) -> None:
        done.append(job.item_id)

    outbox = outbox_on(store, handler)
    assert not outbox.may_run_here()
    await outbox.submit("work", "job", {})
    assert [i.state for i in await store.items(Q)] == [ItemState.READY]
    await outbox.run_until_idle()
    assert done == ["job"]


async def test_a_job_started_here_that_must_wait_is_retried_through_the_store(
    store: Store,
) -> None:
    attempts: list[int] = []
    finished = asyncio.Event()

    async def handler(job: Job) -> None:
        attempts.append(job.attempts)
        if job.attempts == 1:
            raise RetryLater("not yet", delay=0.1)
        finished.set()

    outbox = outbox_on(store, handler)
    outbox.start()
    try:
        await outbox.submit("work", "job", {})
        await asyncio.wait_for(finished.wait(), 5)
    finally:
        await outbox.stop()
    assert attempts == [1, 2]  # the second by a worker, leased from the store


@pytest.mark.parametrize("stop", ["graceful", "crash"])
async def test_a_job_cut_off_here_is_taken_over(store: Store, stop: str) -> None:
    blocked = asyncio.Event()

    async def hangs(job: Job) -> None:
        blocked.set()
        await asyncio.Event().wait()  # this instance stops mid-job

    first = outbox_on(store, hangs, visibility_timeout=0.3)
    first.start()
    await first.submit("work", "job", {"payload": "kept"})
    await asyncio.wait_for(blocked.wait(), 5)
    if stop == "crash":
        # The process dies: nothing gives the job back; its lease runs out.
        first._in_hand.clear()
    await first.stop()  # gone without an ack
    # A graceful stop gives the job back at once; after a crash it waits for its lease.
    expected = ItemState.READY if stop == "graceful" else ItemState.LEASED
    assert [i.state for i in await store.items(Q)] == [expected]

    taken: list[Job] = []
    done = asyncio.Event()

    async def finishes(job: Job) -> None:
        taken.append(job)
        done.set()

    second = outbox_on(store, finishes, idle_wait=0.2)
    second.start()
    try:
        await asyncio.wait_for(done.wait(), 5)
        for _ in range(50):  # its ack
            if not await store.items(Q):
                break
            await asyncio.sleep(0.05)
        assert await store.items(Q) == []
    finally:
        await second.stop()
    assert [(j.item_id, j.attempts, dict(j.payload)) for j in taken] == [
        ("job", 2, {"payload": "kept"})
    ]


async def test_a_store_without_enqueue_leased_still_works(store: Store) -> None:
    class Plain:
        """Only the Store protocol: no enqueue_leased."""

        def __init__(self, inner: Store) -> None:
            self._inner = inner

        def __getattr__(self, name: str) -> Any:
            if name == "enqueue_leased":
                raise AttributeError(name)
            return getattr(self._inner, name)

    done = asyncio.Event()

    async def handler(job: Job) -> None:
        done.set()

    outbox = outbox_on(Plain(store), handler)
    outbox.start()
    try:
        assert not outbox.may_run_here()
        await outbox.submit("work", "job", {})
        await asyncio.wait_for(done.wait(), 5)
    finally:
        await outbox.stop()


async def test_run_until_idle_waits_for_the_jobs_started_here(store: Store) -> None:
    done: list[str] = []

    async def handler(job: Job) -> None:
        await asyncio.sleep(0.2)
        done.append(job.item_id)

    outbox = outbox_on(store, handler)
    outbox.start()
    try:
        assert await outbox.submit("work", "job", {}) is Submitted.STARTED_HERE
        await outbox.run_until_idle(timeout=10)
        assert done == ["job"]  # nothing was ready, but the job was running
        assert await store.items(Q) == []
    finally:
        await outbox.stop()


async def test_a_job_started_here_reads_as_a_worker_would_read_it_stored(
    store: Store,
) -> None:
    """Begun where it was submitted, a job is not decoded from the store, yet
    its handler sees what a worker decoding it would: the same kind, attempt and
    payload (a pre-encoded value as the value it encodes)."""
    seen: list[Job] = []
    ran = asyncio.Event()

    async def handler(job: Job) -> None:
        seen.append(job)
        if len(seen) == 2:
            ran.set()

    payload = {"value": EncodedJSON(b'{"a":[1,"\\u00e9"]}'), "plain": {"b": None}}
    outbox = outbox_on(store, handler)
    outbox.start()
    try:
        await asyncio.sleep(0.1)
        assert await outbox.submit("work", "here", payload) is Submitted.STARTED_HERE
        assert await outbox.submit("work", "queued", payload, run_here=False)
        await asyncio.wait_for(ran.wait(), 5)
    finally:
        await outbox.stop()
    here, queued = sorted(seen, key=lambda job: job.item_id)
    expected = {"value": {"a": [1, "é"]}, "plain": {"b": None}}
    assert dict(here.payload) == dict(queued.payload) == expected
    assert (here.kind, here.attempts) == (queued.kind, queued.attempts) == ("work", 1)
