"""Two things an operator meets: a graceful stop gives its jobs in progress back
at once (a rolling deploy held them until their two-minute lease ran out), and a
store that fails the workers is said once with its traceback, then in one line
an interval (each of 256 workers logged every error whole)."""

from __future__ import annotations

import logging
import time

import pytest

from opencx_salesforce.clock import ManualClock
from opencx_salesforce.devhost.stack import start_stack
from opencx_salesforce.devhost.waiting import wait_for
from opencx_salesforce.models import Contact, HandoffReason, Role
from opencx_salesforce.outbox.store_trouble import StoreTrouble
from opencx_salesforce.store.base import ItemState
from opencx_salesforce.store.memory import MemoryStore


async def test_a_graceful_stop_gives_the_jobs_in_progress_back_at_once() -> None:
    stack = await start_stack(store=MemoryStore())
    try:
        stack.org.faults.latency_ms = 3000  # the handoffs are in flight when it stops
        for n in range(3):
            session = await stack.host.create_session(
                contact=Contact(name=f"Person {n}", email=f"stop{n}@example.com"), topic="Parcel"
            )
            await stack.host.post_message(session.id, Role.CONTACT, "Where is it?")
            await stack.host.handoff(session.id, HandoffReason(code="requested"))
        outbox = stack.runtime.outbox

        async def in_progress() -> bool:
            items = await outbox.items()
            return sum(i.state is ItemState.LEASED for i in items) == 3

        await wait_for(in_progress, what="the three handoffs in progress")
        await outbox.stop()
        items = await outbox.items()
        assert len(items) == 3
        assert all(i.state is ItemState.READY for i in items), items
        assert all(i.available_at <= time.time() + 1 for i in items), items
    finally:
        stack.org.faults.latency_ms = 0
        await stack.close()


def test_store_errors_are_said_once_then_once_an_interval(
    caplog: pytest.LogCaptureFixture,
) -> None:
    clock = ManualClock()
    trouble = StoreTrouble(clock.monotonic, interval=30.0)
    caplog.set_level(logging.INFO, logger="opencx_salesforce.outbox.queue")
    for _ in range(256):  # every worker meets the same outage
        trouble.note(ConnectionError("read-only transaction"), 1.0)
    [first] = caplog.records
    assert first.levelname == "ERROR" and first.exc_info is not None
    clock.advance(31.0)
    for _ in range(100):
        trouble.note(ConnectionError("read-only transaction"), 2.0)
    assert len(caplog.records) == 2
    summary = caplog.records[1].getMessage()
    assert summary.startswith("outbox workers: 256 store errors in the last 31 s")
    trouble.over()
    assert caplog.records[2].getMessage() == "outbox workers: the store answers again"
    trouble.note(ConnectionError("again"), 1.0)  # a new spell: said whole again
    assert caplog.records[3].exc_info is not None
