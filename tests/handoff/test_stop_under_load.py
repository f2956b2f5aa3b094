"""A host stopped with handoffs in flight: the plugin's batched requests end
with its outbox, and nothing is sent (or fails) after its HTTP session closed.

The jobs themselves are safe either way (their leases run out and the next
start does them again, exactly once); what this guards against is work left
running past the stop: a Contact lookup for handoffs nobody waits for any
more, which then failed on the closed session and logged "Contact lookup for
N handoffs failed", as if Cases had lost their Contacts.
"""

from __future__ import annotations

import asyncio
import logging

import pytest
from handoff_support import converse

from opencx_salesforce.devhost.stack import start_stack
from opencx_salesforce.devhost.waiting import wait_for
from opencx_salesforce.models import Contact
from opencx_salesforce.store.memory import MemoryStore


async def test_stopping_with_batches_and_lookups_in_flight_leaves_nothing_running(
    caplog: pytest.LogCaptureFixture,
) -> None:
    stack = await start_stack(store=MemoryStore(), plugin_settings={"outbox_concurrency": 100})
    try:
        sessions = [
            await converse(
                stack.host,
                texts=[f"p{n}: where is my parcel?"],
                contact=Contact(name=f"Person {n}", email=f"p{n}@example.com"),
            )
            for n in range(40)
        ]
        stack.org.faults.latency_ms = 300  # requests stay in flight while it stops
        batcher, appends = stack.runtime.cases.batcher, stack.runtime.cases.appends
        # In waves, so that a lookup is in flight while more handoffs queue theirs.
        handoffs = []
        for wave in range(4):
            for session in sessions[wave * 10 : wave * 10 + 10]:
                handoffs.append(asyncio.create_task(stack.host.handoff(session.id)))
            await asyncio.sleep(0.05)

        async def lookups_queued() -> bool:
            return batcher.lookups.in_flight > 0 and batcher.lookups.queued > 0

        await wait_for(lookups_queued, timeout=10, what="a lookup in flight and more queued")
        await asyncio.gather(*handoffs)  # the host's part: queued, not yet sent
        caplog.set_level(logging.INFO, logger="opencx_salesforce")
        await stack.host.stop()  # the host only: Salesforce stays up
        await asyncio.sleep(0.6)  # two round trips: time for anything left over to act

        assert not batcher.running(), "batch or lookup tasks outlived the stop"
        assert not appends.running()
        failed = [r.getMessage() for r in caplog.records if "lookup" in r.getMessage()]
        assert not failed
    finally:
        await stack.host.stop()
        await stack.emulator.close()
