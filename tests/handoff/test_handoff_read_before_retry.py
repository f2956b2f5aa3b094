"""A retried handoff reads what may have landed only when an earlier attempt's
outcome is unknown (a timeout, a lost connection), not after Salesforce
answered it with a refusal or a 503: then nothing landed, and one call does."""

from __future__ import annotations

from collections.abc import Sequence

import pytest
from handoff_support import case_id_of, cases, comments_of, converse

from opencx_salesforce.devhost.stack import Stack
from opencx_salesforce.devhost.waiting import wait_for
from opencx_salesforce.models import Contact
from opencx_salesforce.salesforce.client import SalesforceClient
from opencx_salesforce.salesforce.errors import TransportError
from opencx_salesforce.salesforce.subrequests import Subrequest, SubResponse

# No email or phone: no Contact lookup, so every call counted is the handoff's own.
NOBODY = Contact(name="Walk-in")


def _calls(stack: Stack) -> dict[str, int]:
    return dict(stack.org.api_calls.by_endpoint)


def _delta(after: dict[str, int], before: dict[str, int]) -> dict[str, int]:
    return {k: v - before.get(k, 0) for k, v in after.items() if v - before.get(k, 0)}


async def test_after_a_503_outage_a_retried_handoff_makes_one_call_and_no_read(
    stack: Stack,
) -> None:
    stack.org.faults.retry_after = 0
    session = await converse(stack.host, texts=["hello", "hi", "help"], contact=NOBODY)
    stack.org.faults.begin_outage(stack.emulator.state.clock.now())  # 503 until ended
    await stack.host.handoff(session.id)

    async def refused_twice() -> bool:
        items = await stack.runtime.outbox.items()
        return any(i.attempts >= 2 for i in items)

    await wait_for(refused_twice, what="two attempts refused with 503")
    stack.org.faults.end_outage()
    before = _calls(stack)
    case_id = await case_id_of(stack.host, session.id)
    assert _delta(_calls(stack), before) == {"composite": 1}
    assert len(comments_of(stack, case_id)) == 1


async def test_after_a_timeout_the_retry_reads_once_and_writes_nothing_twice(
    stack: Stack, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The composite landed but its answer never came back (as a timeout looks
    to the client): the retry reads what landed, once, and adds no duplicate."""
    real = SalesforceClient.composite
    lost = 0

    async def answer_lost_once(
        self: SalesforceClient, requests: Sequence[Subrequest], all_or_none: bool = False
    ) -> list[SubResponse]:
        nonlocal lost
        answers = await real(self, requests, all_or_none)
        if lost == 0:
            lost += 1
            raise TransportError("no answer from Salesforce within 30.0 s", url="composite")
        return answers

    monkeypatch.setattr(SalesforceClient, "composite", answer_lost_once)
    session = await converse(stack.host, texts=[f"line {n}" for n in range(6)], contact=NOBODY)
    before = _calls(stack)
    await stack.host.handoff(session.id)
    case_id = await case_id_of(stack.host, session.id)

    assert lost == 1
    # The first attempt's composite (landed), then the retry's one read; nothing else.
    assert _delta(_calls(stack), before) == {"composite": 1, "query": 1}
    assert [c["Id"] for c in cases(stack)] == [case_id]
    bodies = [c["CommentBody"] for c in comments_of(stack, case_id)]
    assert len(bodies) == len(set(bodies)) == 1
