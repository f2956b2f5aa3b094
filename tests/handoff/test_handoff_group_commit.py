"""Group commit: a lone handoff goes at once in one call; handoffs that become
ready while one is in flight go together as graphs of one composite/graph
request, each all-or-nothing."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import AsyncIterator

import pytest
from handoff_support import api_calls, case_id_of, cases, comments_of, converse

from opencx_salesforce.cases.batch import graph_error
from opencx_salesforce.cases.plan import nothing_landed
from opencx_salesforce.devhost.stack import Stack, start_stack
from opencx_salesforce.devhost.waiting import wait_for
from opencx_salesforce.models import Contact, Session
from opencx_salesforce.outbox.policy import retry_hint
from opencx_salesforce.salesforce.subrequests import GraphResult, SubResponse
from opencx_salesforce.store.base import ItemState
from opencx_salesforce.store.memory import MemoryStore

SETTINGS = {
    "backoff_base_seconds": 0.05,
    "backoff_cap_seconds": 0.2,
    "outbox_concurrency": 100,
}


@pytest.fixture
async def stack() -> AsyncIterator[Stack]:
    stack = await start_stack(store=MemoryStore(), plugin_settings=SETTINGS)
    try:
        yield stack
    finally:
        await stack.close()


async def _people(stack: Stack, count: int, prefix: str = "p") -> list[Session]:
    return [
        await converse(
            stack.host,
            texts=[f"{prefix}{n}: where is my parcel?", "Let me check.", "Still nothing."],
            contact=Contact(name=f"Person {n}", email=f"{prefix}{n}@example.com"),
        )
        for n in range(count)
    ]


async def _jobs_done(stack: Stack) -> None:
    async def done() -> bool:
        return not await stack.runtime.outbox.items()

    await wait_for(done, timeout=30, what="every handoff job to finish")


def _endpoints(stack: Stack) -> Counter[str]:
    return Counter({k: v for k, v in stack.org.api_calls.by_endpoint.items() if v})


async def test_a_lone_handoff_is_one_composite_request_sent_at_once(stack: Stack) -> None:
    (session,) = await _people(stack, 1)
    before = api_calls(stack)
    await stack.host.handoff(session.id)
    case_id = await case_id_of(stack.host, session.id)
    assert api_calls(stack) - before == 1
    assert stack.runtime.cases.batcher.stats.batches == 0
    assert len(comments_of(stack, case_id)) == 1


async def test_a_burst_of_100_concurrent_handoffs_reaches_salesforce_in_at_most_10_requests(
    stack: Stack,
) -> None:
    stack.org.faults.latency_ms = 20  # a round trip, so the burst meets a request in flight
    sessions = await _people(stack, 100)
    before = api_calls(stack)
    await asyncio.gather(*(stack.host.handoff(s.id) for s in sessions))
    ids = [await case_id_of(stack.host, s.id, timeout=60) for s in sessions]

    made = api_calls(stack) - before
    assert made <= 10, _endpoints(stack)
    assert len(set(ids)) == 100 and len(cases(stack)) == 100
    for session, case_id in zip(sessions, ids, strict=True):
        bodies = [c["CommentBody"] for c in comments_of(stack, case_id)]
        assert len(bodies) == 1 and f"{session.messages[0].text}" in bodies[0]
    assert stack.runtime.cases.batcher.stats.batches >= 1


@pytest.fixture
async def account_stack() -> AsyncIterator[Stack]:
    """A stack whose Cases carry the session's ``account`` as ``AccountId``."""
    settings = {**SETTINGS, "case_fields": {"AccountId": "{metadata.account}"}}
    stack = await start_stack(store=MemoryStore(), plugin_settings=settings)
    try:
        yield stack
    finally:
        await stack.close()


async def test_a_burst_goes_before_its_contact_lookups_answer_and_links_them_after(
    stack: Stack,
) -> None:
    """The Contact lookups of a batch overlap the graph in flight and do not hold
    the next graph back: a match that answers after its handoff's graph went is
    linked by a later update, before its job is done (the session learns its
    Case first: the link does not delay the handoff)."""
    stack.org.faults.latency_ms = 20
    sessions = await _people(stack, 60, prefix="known")
    contacts = {
        s.id: stack.org.create("Contact", {"LastName": f"Known {n}", "Email": s.contact.email})
        for n, s in enumerate(sessions)
    }
    before = api_calls(stack)
    await asyncio.gather(*(stack.host.handoff(s.id) for s in sessions))
    ids = {s.id: await case_id_of(stack.host, s.id, timeout=60) for s in sessions}

    await _jobs_done(stack)

    assert api_calls(stack) - before <= 10, _endpoints(stack)
    batcher = stack.runtime.cases.batcher
    assert batcher.stats.batches >= 1 and batcher.stats.late_links >= 1
    linked = {c["Id"]: c["ContactId"] for c in cases(stack)}
    assert all(linked[ids[s.id]] == contacts[s.id] for s in sessions)


async def test_a_contact_not_linkable_yet_retries_its_handoff_into_one_case(
    stack: Stack,
) -> None:
    """A batched handoff whose Contact is held by another transaction fails,
    whether the match rode in its graph or came late (its link then fails after
    the Case landed): the retry finds the Case it made, links it, and writes no
    comment twice; the others of the burst are not held back."""
    stack.org.faults.latency_ms = 20
    sessions = await _people(stack, 20, prefix="kin")
    held = sessions[7]
    held_contact = stack.org.create("Contact", {"LastName": "Held", "Email": held.contact.email})
    stack.org.faults.lock_record(held_contact)
    await asyncio.gather(*(stack.host.handoff(s.id) for s in sessions))
    for session in sessions:
        if session is not held:
            await case_id_of(stack.host, session.id, timeout=60)

    async def retried() -> bool:
        items = await stack.runtime.outbox.items()
        return any(i.item_id == f"handoff:{held.id}" and i.attempts >= 2 for i in items)

    await wait_for(retried, what="the held handoff to be retried")
    stack.org.faults.unlock_record(held_contact)
    case_id = await case_id_of(stack.host, held.id, timeout=30)
    await _jobs_done(stack)
    case = next(c for c in cases(stack) if c["Id"] == case_id)
    assert case["ContactId"] == held_contact
    assert len(comments_of(stack, case_id)) == 1
    by_session = Counter(c["OpenCX_Session_Id__c"] for c in cases(stack))
    assert len(by_session) == 20 and set(by_session.values()) == {1}


async def test_a_failing_graph_leaves_the_others_of_its_batch_landed_and_is_retried(
    account_stack: Stack,
) -> None:
    stack = account_stack
    stack.org.faults.latency_ms = 150  # the first handoff is in flight while the rest queue
    held_account = stack.org.create("Account", {"Name": "Held"})
    stack.org.faults.lock_record(held_account)  # another transaction holds it
    held_contact = stack.org.create("Contact", {"LastName": "Held", "Email": "held@example.com"})
    (pilot,) = await _people(stack, 1, prefix="pilot")
    others = await _people(stack, 5, prefix="other")
    held = await converse(
        stack.host,
        texts=["my parcel?", "checking"],
        contact=Contact(name="Held Person", email="held@example.com"),
        metadata={"account": held_account},  # its Case looks up to the locked Account
    )
    batcher = stack.runtime.cases.batcher

    async def pilot_in_flight() -> bool:
        return batcher.stats.requests >= 1

    await stack.host.handoff(pilot.id)
    await wait_for(pilot_in_flight, what="the pilot handoff in flight")
    await asyncio.gather(*(stack.host.handoff(s.id) for s in [*others, held]))
    for session in others:
        await case_id_of(stack.host, session.id)
    assert batcher.stats.batches >= 1
    subjects = {c["OpenCX_Session_Id__c"] for c in cases(stack)}
    assert held.id not in subjects  # its graph rolled back, and only its graph

    async def retried() -> bool:
        items = await stack.runtime.outbox.items()
        return any(i.item_id == f"handoff:{held.id}" and i.attempts >= 2 for i in items)

    await wait_for(retried, what="the held handoff to be retried")
    assert await stack.runtime.outbox.items(ItemState.DEAD) == []

    stack.org.faults.unlock_record(held_account)
    case_id = await case_id_of(stack.host, held.id, timeout=30)
    await _jobs_done(stack)
    case = next(c for c in cases(stack) if c["Id"] == case_id)
    assert case["ContactId"] == held_contact and case["AccountId"] == held_account
    assert len(comments_of(stack, case_id)) == 1
    by_session = Counter(c["OpenCX_Session_Id__c"] for c in cases(stack))
    assert len(by_session) == 7 and set(by_session.values()) == {1}


def test_a_graph_halted_by_other_graphs_failures_is_retried_without_a_read() -> None:
    """After 14 failed graphs Salesforce halts the rest of the request
    (resources_composite_graph_limits.htm): their handoffs did nothing wrong and
    wrote nothing, so the outbox retries them, and the retry need not read."""
    halted = [{"errorCode": "PROCESSING_HALTED", "message": "halted"}]
    result = GraphResult(
        "h20",
        is_successful=False,
        responses=[
            SubResponse("refCase", 400, halted, {}),
            SubResponse("refComment0", 400, halted, {}),
        ],
    )
    error = graph_error(result)
    assert retry_hint(error)[0] is True
    assert nothing_landed(error)

    own = [{"errorCode": "STRING_TOO_LONG", "message": "too long", "fields": ["Subject"]}]
    refused = GraphResult(
        "h3",
        is_successful=False,
        responses=[
            SubResponse("refCase", 400, own, {}),
            SubResponse("refComment0", 400, halted, {}),
        ],
    )
    assert retry_hint(graph_error(refused))[0] is False  # its own refusal: dead letter
