"""Never two Cases, never a comment twice, nothing lost: duplicates, crashes
between Salesforce and the bookkeeping, several host instances, and outages."""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter
from collections.abc import AsyncIterator

import pytest
from handoff_support import api_calls, case_id_of, cases, comments_of, converse, wait_for

from opencx_salesforce.cases.index import CaseIndex
from opencx_salesforce.devhost.stack import Stack, start_host, start_stack
from opencx_salesforce.emulator.app import Emulator
from opencx_salesforce.models import Contact, HandoffReason
from opencx_salesforce.store.base import ItemState
from opencx_salesforce.store.memory import MemoryStore
from opencx_salesforce.store.redis import RedisStore

FAST_RETRIES = {"backoff_base_seconds": 0.05, "backoff_cap_seconds": 0.3}


def no_duplicate_comments(stack: Stack, case_id: str) -> None:
    bodies = Counter(c["CommentBody"] for c in comments_of(stack, case_id))
    assert bodies and max(bodies.values()) == 1, "a transcript comment was written twice"


async def test_the_same_handoff_fired_twice_concurrently_makes_one_case(stack: Stack) -> None:
    session = await converse(stack.host, texts=["one", "two", "three"])
    reason = HandoffReason(code="requested")
    await asyncio.gather(
        stack.plugin.on_handoff(session=session, reason=reason),
        stack.plugin.on_handoff(session=session, reason=reason),
    )
    case_id = await case_id_of(stack.host, session.id)
    await stack.runtime.outbox.run_until_idle()
    assert [c["Id"] for c in cases(stack)] == [case_id]
    no_duplicate_comments(stack, case_id)

    # Fired again once the Case exists: still one Case, nothing rewritten.
    before = api_calls(stack)
    await stack.plugin.on_handoff(session=session, reason=reason)
    await wait_for(lambda: _idle(stack), what="the outbox to drain")
    assert len(cases(stack)) == 1 and api_calls(stack) == before


async def _idle(stack: Stack) -> bool:
    return not await stack.runtime.outbox.items()


async def test_a_crash_after_salesforce_answered_neither_duplicates_nor_loses(
    stack: Stack, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The composite reached Salesforce, then the worker died before writing the
    Case into its index (the host had it already). The retry reads what landed
    (one query), writes nothing twice and links the Case again."""
    real_link = CaseIndex.link_session
    crashes = 0

    async def crash_once(self: CaseIndex, *args: object, **kwargs: object) -> None:
        nonlocal crashes
        if crashes == 0:
            crashes += 1
            raise ConnectionResetError("worker lost its store connection")
        await real_link(self, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(CaseIndex, "link_session", crash_once)
    session = await converse(stack.host, texts=[f"message {n}" for n in range(30)])
    before = api_calls(stack)
    await stack.host.handoff(session.id)
    case_id = await case_id_of(stack.host, session.id)
    await wait_for(lambda: _idle(stack), what="the retry to link the Case")

    assert crashes == 1
    assert [c["Id"] for c in cases(stack)] == [case_id]
    ref = await CaseIndex(stack.host.store).session_case(session.id)
    assert ref is not None and ref.case_id == case_id
    no_duplicate_comments(stack, case_id)
    # The first attempt's composite, then the retry's read; nothing else.
    assert api_calls(stack) - before == 2


async def test_a_partial_transcript_is_completed_not_repeated(
    stack: Stack, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Some comments landed before the failure: the retry writes only the rest."""
    session = await converse(stack.host, texts=["x" * 3000 for _ in range(12)])
    stack.org.faults.fail_next("lock", 1)  # the first write fails: UNABLE_TO_LOCK_ROW
    await stack.host.handoff(session.id)
    case_id = await case_id_of(stack.host, session.id)
    await wait_for(lambda: _idle(stack), what="the outbox to drain")
    assert len(cases(stack)) == 1
    no_duplicate_comments(stack, case_id)
    joined = "".join(c["CommentBody"] for c in comments_of(stack, case_id))
    assert joined.count("x" * 1000) >= 12


@pytest.mark.redis
async def test_two_host_instances_on_one_redis_make_one_case() -> None:
    emulator = Emulator()
    await emulator.start()
    prefix = f"opencx-test-{uuid.uuid4().hex[:8]}:"
    store_a = await RedisStore.open("redis://127.0.0.1:6379/0", prefix=prefix)
    store_b = await RedisStore.open("redis://127.0.0.1:6379/0", prefix=prefix)
    first = await start_stack(store=store_a, emulator=emulator, plugin_settings=FAST_RETRIES)
    host_b, plugin_b, _ = await start_host(
        store=store_b, emulator_url=emulator.base_url, plugin_settings=FAST_RETRIES
    )
    try:
        sessions = [
            await converse(
                first.host,
                texts=[f"conversation {n}, message {m}" for m in range(5)],
                contact=Contact(name=f"Person {n}", email=f"p{n}@example.com"),
            )
            for n in range(20)
        ]
        reason = HandoffReason()
        # Every handoff reaches both instances at once.
        await asyncio.gather(
            *[first.plugin.on_handoff(session=s, reason=reason) for s in sessions],
            *[plugin_b.on_handoff(session=s, reason=reason) for s in sessions],
        )
        for s in sessions:
            await case_id_of(first.host, s.id, timeout=30)
        await wait_for(lambda: _idle(first), what="the outbox to drain", timeout=30)
        by_session = Counter(c["OpenCX_Session_Id__c"] for c in cases(first))
        assert len(by_session) == 20 and set(by_session.values()) == {1}
        for case in cases(first):
            no_duplicate_comments(first, case["Id"])
    finally:
        await host_b.stop()
        await first.close()
        for store in (store_a, store_b):
            for ns in ("salesforce.cases", "salesforce.locks", "salesforce", "salesforce.state"):
                for key in await store.keys(ns):
                    await store.delete(ns, key)
            await store.close()


@pytest.fixture
async def outage_stack() -> AsyncIterator[Stack]:
    stack = await start_stack(store=MemoryStore(), plugin_settings=FAST_RETRIES)
    try:
        yield stack
    finally:
        await stack.close()


async def test_an_outage_delays_200_handoffs_and_loses_none(outage_stack: Stack) -> None:
    stack = outage_stack
    clock = stack.emulator.state.clock
    stack.org.faults.begin_outage(clock.now())  # until ended
    sessions = []
    for n in range(200):
        session = await converse(
            stack.host,
            texts=[f"hello from {n}", "bot answer"],
            contact=Contact(name=f"Customer {n}", email=f"c{n}@example.com"),
        )
        await stack.host.handoff(session.id)
        sessions.append(session)
    await asyncio.sleep(0.5)
    assert cases(stack) == []  # nothing got through the outage
    pending = await stack.runtime.outbox.items()
    assert len(pending) == 200 and all(i.state is not ItemState.DEAD for i in pending)

    stack.org.faults.end_outage()
    for session in sessions:
        await case_id_of(stack.host, session.id, timeout=60)
    by_session = Counter(c["OpenCX_Session_Id__c"] for c in cases(stack))
    assert len(by_session) == 200 and set(by_session.values()) == {1}
    assert await stack.runtime.outbox.items(ItemState.DEAD) == []
