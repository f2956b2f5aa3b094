"""An append that finds no Case yet waits for its session's handoff while that
handoff is in the outbox, however long it has waited (held by an outage, say),
and fails with a clear error once no handoff is left to wait for: the queued
job is the handoff's only "pending" mark."""

from __future__ import annotations

import dataclasses

import pytest
from handoff_support import converse

from opencx_salesforce.cases.service import APPEND_GRACE
from opencx_salesforce.devhost.stack import Stack
from opencx_salesforce.errors import PermanentFailure, RetryLater
from opencx_salesforce.models import Role
from opencx_salesforce.outbox.queue import Job
from opencx_salesforce.runtime import OUTBOX_QUEUE


async def old_append(stack: Stack, session_id: str) -> Job:
    """The contact's append job, as a worker would lease it long after it was
    queued (past the grace an append gives a handoff it cannot see)."""
    (job,) = await stack.runtime.outbox.pending(f"append:{session_id}:")
    return dataclasses.replace(job, attempts=2, age=APPEND_GRACE + 1)


async def bury_handoff(stack: Stack, session_id: str) -> None:
    """Dead-letter the session's queued handoff (as a refusal would)."""
    store = stack.host.store
    leases = await store.lease(OUTBOX_QUEUE, visibility_timeout=30, limit=10)
    for lease in leases:
        if lease.item_id == f"handoff:{session_id}":
            await store.bury(lease, error="refused")
        else:
            await store.retry_in(lease, 0)


async def test_an_old_append_waits_while_its_handoff_is_queued_then_fails_clearly(
    stack: Stack,
) -> None:
    await stack.runtime.outbox.stop()  # the handoff stays queued, as in an outage
    session = await converse(stack.host, texts=["My parcel is missing."])
    await stack.host.handoff(session.id)
    await stack.host.post_message(session.id, Role.CONTACT, "Hello? Anyone?")
    append = await old_append(stack, session.id)

    with pytest.raises(RetryLater, match="not created yet"):
        await stack.runtime.cases.handle_append(append)

    # Dead-lettered, the handoff will make no Case: the append says so rather
    # than wait for ever.
    await bury_handoff(stack, session.id)
    with pytest.raises(PermanentFailure, match="no Salesforce Case to append to"):
        await stack.runtime.cases.handle_append(append)


async def test_a_queued_handoff_of_a_longer_session_id_is_not_this_sessions(
    stack: Stack,
) -> None:
    outbox = stack.runtime.outbox
    await outbox.stop()
    session = await converse(stack.host, texts=["Parcel missing."])
    await stack.host.handoff(session.id)
    await stack.host.post_message(session.id, Role.CONTACT, "Still there?")
    append = await old_append(stack, session.id)
    await bury_handoff(stack, session.id)
    # Its item id starts with this session's handoff's.
    await outbox.submit("handoff", f"handoff:{session.id}0", {"session_json": "{}"})

    with pytest.raises(PermanentFailure):
        await stack.runtime.cases.handle_append(append)
