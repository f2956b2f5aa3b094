"""Group commit and the size of a request: long transcripts under load go in
batches that stay under the payload budget, and a batch a server refuses as too
large (413) is sent again in halves, never dead-lettering its handoffs.

Found by the benchmark: 100 concurrent handoffs of 100 messages made a graph
request of 1.07 MB, the emulator's server refused it (413) and every handoff in
it was dead-lettered."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator

import pytest
from handoff_support import case_id_of, comments_of, converse

from opencx_salesforce.cases import plan
from opencx_salesforce.devhost.stack import Stack, start_stack
from opencx_salesforce.devhost.waiting import wait_for
from opencx_salesforce.models import Contact, Session
from opencx_salesforce.salesforce import subrequests
from opencx_salesforce.salesforce.errors import ValidationFailed
from opencx_salesforce.salesforce.json_body import json_bytes
from opencx_salesforce.salesforce.subrequests import subrequests_json
from opencx_salesforce.store.base import ItemState
from opencx_salesforce.store.memory import MemoryStore

SETTINGS = {
    "backoff_base_seconds": 0.05,
    "backoff_cap_seconds": 0.2,
    "outbox_concurrency": 100,
    "match_contacts": False,
}
PEOPLE = 40
# 40 handoffs × 30 messages × ~900 bytes: about 1.1 MB of comments in all.
LINE = "My parcel was meant to arrive on Tuesday and the tracking page still says so. " * 11


@pytest.fixture
async def stack() -> AsyncIterator[Stack]:
    stack = await start_stack(store=MemoryStore(), plugin_settings=SETTINGS)
    try:
        yield stack
    finally:
        await stack.close()


async def _long_conversations(stack: Stack) -> list[Session]:
    return [
        await converse(
            stack.host,
            texts=[f"{n}.{m} {LINE}" for m in range(30)],
            contact=Contact(name=f"Person {n}", email=f"long{n}@example.com"),
        )
        for n in range(PEOPLE)
    ]


async def _hand_off_all(stack: Stack, sessions: list[Session]) -> None:
    stack.org.faults.latency_ms = 20  # a round trip, so the burst meets a request in flight
    await asyncio.gather(*(stack.host.handoff(s.id) for s in sessions))
    for session in sessions:
        case_id = await case_id_of(stack.host, session.id, timeout=60)
        landed = "".join(c["CommentBody"] for c in comments_of(stack, case_id))
        assert all(f"{m.text}" in landed for m in session.messages), session.id
    dead = await stack.runtime.outbox.items(ItemState.DEAD)
    assert dead == []


async def test_long_transcripts_under_load_go_in_batches_under_the_budget(
    stack: Stack, caplog: pytest.LogCaptureFixture
) -> None:
    sessions = await _long_conversations(stack)
    with caplog.at_level(logging.WARNING, logger="opencx_salesforce.cases.batch"):
        await _hand_off_all(stack, sessions)
    batcher = stack.runtime.cases.batcher
    assert batcher.stats.batches >= 2
    assert "too large" not in caplog.text  # the budget kept every request small enough


async def test_a_batch_refused_as_too_large_is_sent_again_in_halves(
    stack: Stack, caplog: pytest.LogCaptureFixture
) -> None:
    batcher = stack.runtime.cases.batcher
    batcher.max_bytes = 10**9  # as if the budget were wrong
    batcher.max_graphs = 75  # and requests as large as Salesforce takes
    sessions = await _long_conversations(stack)
    with caplog.at_level(logging.WARNING, logger="opencx_salesforce.cases.batch"):
        await _hand_off_all(stack, sessions)
    assert "too large (413): sent in halves" in caplog.text


def test_a_graphs_size_is_counted_as_the_client_sends_it() -> None:
    # A transcript is mostly ASCII with a "·" in its title: it is counted at
    # its real size (plus a node's allowance), not six bytes a character; a
    # lone surrogate, escaped, counts the six it takes.
    body = "Conversation transcript · conversation s1\n" + 'He said "hi" \\ 🇯🇵\tok\n' * 150
    body += "half a pair \ud83d"
    nodes = [
        subrequests.upsert(
            "Case", "Session_Id__c", "s1", {"Subject": "Parcel · late"}, ref="refCase"
        ),
        subrequests.create(
            "CaseComment", {"ParentId": "@{refCase.id}", "CommentBody": body}, ref="refComment0"
        ),
    ]
    sent = len(json_bytes(subrequests_json(nodes, "/services/data/v62.0")))
    assert sent <= plan.json_size(nodes) <= sent + 200 * len(nodes)


async def test_a_batch_refused_whole_is_halved_until_only_the_handoff_at_fault_fails(
    stack: Stack, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A request-level 400 (a body Salesforce cannot parse, say) failed every
    # handoff of the batch with the one at fault. Injected at the client: the
    # request fails whole whenever it carries the poisoned conversation.
    client = stack.runtime.client
    send_graphs = client.composite_graph

    async def refusing(graphs: list[subrequests.Graph]) -> list[subrequests.GraphResult]:
        if any("POISON" in str(node.body) for graph in graphs for node in graph.requests):
            raise ValidationFailed(
                "Unexpected character", status=400, error_code="JSON_PARSER_ERROR"
            )
        return await send_graphs(graphs)

    monkeypatch.setattr(client, "composite_graph", refusing)
    sessions = [
        await converse(
            stack.host,
            texts=["POISON" if n == 7 else f"hello {n}"],
            contact=Contact(name=f"Person {n}", email=f"batch{n}@example.com"),
        )
        for n in range(20)
    ]
    stack.org.faults.latency_ms = 20  # a request in flight, so the rest go together
    with caplog.at_level(logging.WARNING, logger="opencx_salesforce.cases.batch"):
        await asyncio.gather(*(stack.host.handoff(s.id) for s in sessions))
        for n, session in enumerate(sessions):
            if n != 7:
                await case_id_of(stack.host, session.id, timeout=30)
    assert "refused whole" in caplog.text and "sent in halves" in caplog.text

    async def buried() -> list[object]:
        return await stack.runtime.outbox.items(ItemState.DEAD)

    [dead] = await wait_for(buried, what="the one dead letter")
    assert dead.item_id == f"handoff:{sessions[7].id}"
    assert stack.runtime.cases.batcher.stats.batches >= 2
