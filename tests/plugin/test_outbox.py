"""The outbox: work persisted first, done by woken workers, retried with
backoff, buried when hopeless, never lost."""

from __future__ import annotations

import asyncio
import random
import time

from opencx_salesforce.logs import current_context
from opencx_salesforce.outbox import (
    EncodedJSON,
    Job,
    Outbox,
    OutboxSettings,
    PermanentFailure,
    RetryLater,
)
from opencx_salesforce.store.base import ItemState
from opencx_salesforce.store.memory import MemoryStore


class Flaky(Exception):
    def __init__(self, retry_after: float | None = None) -> None:
        super().__init__("flaky")
        self.retry_after = retry_after


def hint(exc: BaseException) -> tuple[bool, float | None]:
    if isinstance(exc, Flaky):
        return True, exc.retry_after
    return False, None


def make(store: MemoryStore, handler, **settings: float) -> Outbox:  # type: ignore[no-untyped-def]
    return Outbox(
        store,
        queue="test.outbox",
        handlers={"work": handler},
        retry_hint=hint,
        settings=OutboxSettings(**settings),  # type: ignore[arg-type]
        rng=random.Random(7),
    )


async def test_submit_is_idempotent_and_a_worker_is_woken_not_polling() -> None:
    store = MemoryStore()
    done: list[str] = []
    seen = asyncio.Event()

    async def handler(job: Job) -> None:
        done.append(job.payload["n"])
        seen.set()

    outbox = make(store, handler, idle_wait=30.0)
    outbox.start()
    try:
        deadline = time.monotonic() + 5
        while store.waiting("test.outbox") == 0:  # until the worker waits, for up to 30 s
            assert time.monotonic() < deadline, "the worker never went idle"
            await asyncio.sleep(0.001)
        started = time.monotonic()
        assert await outbox.submit("work", "job-1", {"n": "one"})
        assert not await outbox.submit("work", "job-1", {"n": "again"})
        await asyncio.wait_for(seen.wait(), 2)
        assert time.monotonic() - started < 1.0
    finally:
        await outbox.stop()
    assert done == ["one"]
    assert await outbox.items() == []


async def test_retryable_failures_back_off_then_succeed() -> None:
    store = MemoryStore()
    attempts: list[int] = []

    async def handler(job: Job) -> None:
        attempts.append(job.attempts)
        if job.attempts < 3:
            raise Flaky()

    outbox = make(store, handler, backoff_base=0.01, backoff_cap=0.02)
    await outbox.submit("work", "j", {})
    deadline = time.monotonic() + 5
    while outbox.stats.done == 0 and time.monotonic() < deadline:
        if not await outbox.work_once():
            await asyncio.sleep(0.01)
    assert attempts == [1, 2, 3]
    assert outbox.stats.retried == 2


async def test_retry_after_is_honoured() -> None:
    store = MemoryStore()

    async def handler(job: Job) -> None:
        raise Flaky(retry_after=30.0)

    outbox = make(store, handler, backoff_base=0.01, backoff_cap=0.01)
    await outbox.submit("work", "j", {})
    await outbox.work_once()
    [item] = await outbox.items()
    assert item.state is ItemState.READY
    assert item.available_at - time.time() > 29
    assert item.last_error and "Flaky" in item.last_error


async def test_permanent_failures_are_buried_and_can_be_retried() -> None:
    store = MemoryStore()
    fail = True

    async def handler(job: Job) -> None:
        if fail:
            raise PermanentFailure("Salesforce said REQUIRED_FIELD_MISSING: Plan__c")

    outbox = make(store, handler)
    await outbox.submit("work", "j", {"x": 1})
    await outbox.work_once()
    [dead] = await outbox.items(ItemState.DEAD)
    assert dead.last_error is not None and "Plan__c" in dead.last_error

    fail = False
    assert await outbox.retry_dead() == 1
    await outbox.run_until_idle()
    assert await outbox.items() == []


async def test_unknown_errors_are_not_retried_forever() -> None:
    store = MemoryStore()

    async def handler(job: Job) -> None:
        raise KeyError("bug")

    outbox = make(store, handler)
    await outbox.submit("work", "j", {})
    await outbox.work_once()
    assert [i.item_id for i in await outbox.items(ItemState.DEAD)] == ["j"]


async def test_an_item_failing_past_the_dead_letter_age_is_buried() -> None:
    store = MemoryStore()

    async def handler(job: Job) -> None:
        raise Flaky()

    outbox = make(store, handler, dead_letter_after=0.0)
    await outbox.submit("work", "j", {})
    await outbox.work_once()
    [dead] = await outbox.items(ItemState.DEAD)
    assert dead.last_error is not None and "still failing" in dead.last_error


async def test_retry_later_waits_without_counting_as_an_error() -> None:
    store = MemoryStore()
    calls = 0

    async def handler(job: Job) -> None:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise RetryLater("waiting for the Case", delay=0.0)

    outbox = make(store, handler)
    await outbox.submit("work", "j", {})
    await outbox.run_until_idle()
    assert calls == 2
    assert outbox.stats.last_error is None and outbox.stats.retried == 0


async def test_a_crashed_worker_loses_nothing() -> None:
    """A worker that dies mid-job (its lease never acked) leaves the item to the
    next worker once the visibility timeout passes, with attempts counted so the
    handler knows to check what already reached Salesforce."""
    store = MemoryStore()
    jobs: list[Job] = []

    async def handler(job: Job) -> None:
        jobs.append(job)

    outbox = make(store, handler, visibility_timeout=0.1)
    await outbox.submit("work", "j", {"n": 1})
    [lease] = await store.lease("test.outbox", visibility_timeout=0.1)  # the "crashed" worker
    assert not await outbox.work_once()  # hidden while leased
    deadline = time.monotonic() + 5
    while not await outbox.work_once():  # until the lease lapses, on the store's clock
        assert time.monotonic() < deadline, "the lapsed lease never came back"
        await asyncio.sleep(0.01)
    assert [j.attempts for j in jobs] == [2]
    assert jobs[0].is_retry
    assert not await store.ack(lease)  # the dead worker's lease is stale


def test_full_jitter_stays_within_the_capped_exponential() -> None:
    outbox = make(MemoryStore(), None, backoff_base=1.0, backoff_cap=60.0)
    for attempts in range(1, 40):
        ceiling = min(60.0, 2 ** (attempts - 1))
        delays = [outbox.backoff(attempts) for _ in range(50)]
        assert all(0 <= d <= ceiling for d in delays)
    assert max(outbox.backoff(20) for _ in range(200)) > 30  # it does reach the cap region


async def test_a_job_runs_inside_a_log_context_naming_it() -> None:
    """What logs.JsonFormatter writes as job_id / session_id / case_id."""
    store = MemoryStore()
    seen: list[dict[str, str]] = []
    ran = asyncio.Event()

    async def handler(job: Job) -> None:
        seen.append(current_context())
        ran.set()

    outbox = make(store, handler)
    outbox.start()
    try:
        await outbox.submit("work", "job-7", {"session_id": "s_1", "case_id": "500A"})
        await asyncio.wait_for(ran.wait(), 5)
    finally:
        await outbox.stop()
    assert seen == [{"job_id": "job-7", "session_id": "s_1", "case_id": "500A"}]


async def test_a_pre_encoded_value_is_written_as_json_and_read_back_as_its_value() -> None:
    """``EncodedJSON``: spliced into the job as it is (not escaped as a string),
    read back by a worker as the value it encodes, next to plain values."""
    store = MemoryStore()
    seen: list[Job] = []
    ran = asyncio.Event()

    async def handler(job: Job) -> None:
        seen.append(job)
        ran.set()

    outbox = make(store, handler)
    encoded = EncodedJSON(b'{"text":"a \\"quoted\\" word \\u00e9","n":[1,2]}')
    assert await outbox.submit("work", "job-1", {"value": encoded, "plain": {"k": "é"}})
    [item] = await outbox.items()
    assert b'"value":{"text":' in item.payload  # an object, not a string holding one
    outbox.start()
    try:
        await asyncio.wait_for(ran.wait(), 2)
    finally:
        await outbox.stop()
    assert seen[0].payload == {
        "value": {"text": 'a "quoted" word é', "n": [1, 2]},
        "plain": {"k": "é"},
    }
