"""A connection that closes with no answer (a server or load balancer dropping a
kept-alive connection as a request goes out on it): the handoff still lands
once, linked to its Contact.

The emulator drops the connection itself (``fail_next(DISCONNECT)``); the
batched Contact lookup's retry is driven with aioresponses on the stack's own
connected client, since which request of a burst meets the drop cannot be
scripted against the emulator."""

from __future__ import annotations

from dataclasses import dataclass

import aiohttp
from aioresponses import aioresponses
from handoff_support import api_calls, cases, comments_of, converse, handoff_and_wait

from opencx_salesforce.cases.lookups import Lookups, Match
from opencx_salesforce.devhost.stack import Stack
from opencx_salesforce.emulator.faults import DISCONNECT
from opencx_salesforce.models import Contact

JANE = Contact(name="Jane Doe", email="jane@example.com")


async def test_a_dropped_handoff_request_is_sent_again_and_lands_once(stack: Stack) -> None:
    contact_id = stack.org.create("Contact", {"LastName": "Doe", "Email": JANE.email})
    session = await converse(stack.host, texts=["Where is my parcel?", "Checking."], contact=JANE)
    stack.org.faults.fail_next(DISCONNECT)
    before = api_calls(stack)

    case_id = await handoff_and_wait(stack.host, session.id)

    [case] = cases(stack)
    assert case["Id"] == case_id and case["ContactId"] == contact_id
    assert len(comments_of(stack, case_id)) == 1
    # The dropped request (the emulator counts it, as the org may have) and the
    # job's retry.
    assert api_calls(stack) - before == 2


@dataclass
class _Stats:
    requests: int = 0


def _found(contact_id: str, email: str) -> dict[str, object]:
    page = {"totalSize": 1, "done": True, "records": [{"Id": contact_id, "Email": email}]}
    item = {"body": page, "httpHeaders": {}, "httpStatusCode": 200, "referenceId": "refContacts"}
    return {"compositeResponse": [item]}


def _composite_url(stack: Stack) -> str:
    return f"{stack.emulator.base_url}/services/data/v62.0/composite"


async def _look_up(stack: Stack) -> tuple[Match | None, int]:
    """One batched lookup of Jane, on the stack's connected client."""
    stats = _Stats()
    lookups = Lookups(stack.runtime.client, stats)
    answer = lookups.submit(JANE)
    lookups.kick()
    return await answer, stats.requests


async def test_a_batched_lookup_whose_connection_drops_is_asked_again(stack: Stack) -> None:
    with aioresponses() as mock:
        mock.post(_composite_url(stack), exception=aiohttp.ServerDisconnectedError())
        mock.post(_composite_url(stack), payload=_found("003000000000001AAA", JANE.email or ""))
        match, requests = await _look_up(stack)
    assert match == Match("003000000000001AAA")
    assert requests == 2


async def test_a_batched_lookup_that_timed_out_is_not_asked_again(stack: Stack) -> None:
    with aioresponses() as mock:
        mock.post(_composite_url(stack), exception=TimeoutError())
        mock.post(_composite_url(stack), payload=_found("003000000000001AAA", JANE.email or ""))
        match, requests = await _look_up(stack)
    # No link now (the Case goes without its Contact); the query waited its time.
    assert match is None
    assert requests == 1
