"""A handoff's first writes begin with its job when the job starts where it was
submitted (cases/head_start.py): no outbox lease is taken, the contact's lock
taken beside the job is the one the job holds, and a head start whose job did
not start there is given up, its lock released."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest
from handoff_support import case_id_of, cases, comments_of, converse

from opencx_salesforce.devhost.stack import Stack, start_stack
from opencx_salesforce.models import Contact, HandoffReason
from opencx_salesforce.store.base import Lease
from opencx_salesforce.store.lock import LOCKS_NS
from opencx_salesforce.store.memory import MemoryStore


class CountingStore:
    """The memory store, with its ``lease`` calls counted."""

    def __init__(self) -> None:
        self.inner = MemoryStore()
        self.leases = 0

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    async def lease(self, queue: str, *, visibility_timeout: float, limit: int = 1) -> list[Lease]:
        self.leases += 1
        return await self.inner.lease(queue, visibility_timeout=visibility_timeout, limit=limit)


@pytest.fixture
async def counted() -> AsyncIterator[tuple[Stack, CountingStore]]:
    store = CountingStore()
    stack = await start_stack(store=store)  # type: ignore[arg-type]
    try:
        yield stack, store
    finally:
        await stack.close()


async def test_a_handoff_started_here_takes_no_lease_and_leaves_no_lock(
    counted: tuple[Stack, CountingStore],
) -> None:
    stack, store = counted
    session = await converse(stack.host, texts=["My parcel is missing."])
    await asyncio.sleep(0.2)  # the idle workers have looked once
    leases = store.leases
    await stack.host.handoff(session.id)
    assert await case_id_of(stack.host, session.id)
    assert store.leases == leases  # the job was leased to this process as written
    for _ in range(50):  # the job releases the lock after the Case is linked
        if not await store.keys(LOCKS_NS):
            break
        await asyncio.sleep(0.05)
    assert await store.keys(LOCKS_NS) == []
    assert len(cases(stack)) == 1


async def test_a_hook_call_replayed_while_its_job_runs_gives_its_head_start_up(
    counted: tuple[Stack, CountingStore],
) -> None:
    stack, store = counted
    stack.org.faults.latency_ms = 400  # the first job is still in flight
    session = await converse(
        stack.host, texts=["Parcel missing."], contact=Contact(email="jo@example.com")
    )
    await stack.host.handoff(session.id)
    await asyncio.sleep(0.05)  # its job has begun, with its head start
    assert len(stack.runtime.cases.head_starts) == 0
    handed_off = await stack.host.get_session(session.id)
    assert handed_off is not None
    # The host calls the hook again (as a host replaying its journal would):
    # the job is already queued, so this call's head start is nobody's.
    await stack.runtime.handoff(handed_off, HandoffReason())
    assert len(stack.runtime.cases.head_starts) == 0
    assert await case_id_of(stack.host, session.id)
    for _ in range(100):
        if not await store.keys(LOCKS_NS):
            break
        await asyncio.sleep(0.05)
    assert await store.keys(LOCKS_NS) == []  # neither the job's nor the replay's
    assert len(cases(stack)) == 1


async def test_a_job_started_here_sends_the_session_as_queued_not_as_changed_later(
    counted: tuple[Stack, CountingStore],
) -> None:
    """The job started here takes its session from the head start, not by
    parsing its payload again: a copy, so a host that changes the object it
    passed to the hook after the call (as a host reusing it may) changes
    nothing of what goes to Salesforce; the Case is what was queued."""
    stack, _ = counted
    stack.org.faults.latency_ms = 200  # the job is in flight when the host changes it
    session = await converse(stack.host, texts=["My parcel is missing."])
    session.metadata["priority"] = "queued"
    await stack.runtime.handoff(session, HandoffReason())
    # The host's own object, changed after the hook returned.
    session.messages.append(session.messages[0].model_copy(update={"text": "Added later."}))
    session.metadata["priority"] = "changed"
    session.topic = "Changed later"
    case_id = await case_id_of(stack.host, session.id)
    (case,) = cases(stack)
    assert case["Id"] == case_id and case["Subject"] == "My order never arrived"
    bodies = "\n".join(c["CommentBody"] for c in comments_of(stack, case_id))
    assert "My parcel is missing." in bodies and "Added later." not in bodies
