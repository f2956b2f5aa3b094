"""A connection that closes with no answer (a server or load balancer dropping a
kept-alive connection as a request goes out on it): the handoff still lands
once, linked to its Contact.

The emulator drops the connection itself (``fail_next(DISCONNECT)``); the
batched Contact lookup's retry is driven with aioresponses, since which request
of a burst meets the drop cannot be scripted against the emulator."""

from __future__ import annotations

from dataclasses import dataclass

import aiohttp
from aioresponses import aioresponses
from handoff_support import api_calls, cases, comments_of, converse, handoff_and_wait

from opencx_salesforce.cases.lookups import Lookups, Match
from opencx_salesforce.devhost.stack import Stack
from opencx_salesforce.emulator.faults import DISCONNECT
from opencx_salesforce.models import Contact
from opencx_salesforce.salesforce.client import SalesforceClient

INSTANCE = "https://acme.my.salesforce.test"
COMPOSITE = f"{INSTANCE}/services/data/v62.0/composite"
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


@dataclass(frozen=True)
class _Token:
    access_token: str = "00Dxx!fake-access-token"
    instance_url: str = INSTANCE


class _Tokens:
    async def access_token(self) -> _Token:
        return _Token()

    async def refresh(self, stale_token: str | None = None) -> _Token:
        return _Token()


def _found(contact_id: str, email: str) -> dict[str, object]:
    page = {"totalSize": 1, "done": True, "records": [{"Id": contact_id, "Email": email}]}
    item = {"body": page, "httpHeaders": {}, "httpStatusCode": 200, "referenceId": "refContacts"}
    return {"compositeResponse": [item]}


async def _look_up() -> tuple[Match | None, int]:
    async with aiohttp.ClientSession() as session:
        stats = _Stats()
        lookups = Lookups(SalesforceClient(_Tokens(), session=session, timeout=2.0), stats)
        answer = lookups.submit(JANE)
        lookups.kick()
        return await answer, stats.requests


async def test_a_batched_lookup_whose_connection_drops_is_asked_again() -> None:
    with aioresponses() as mock:
        mock.post(COMPOSITE, exception=aiohttp.ServerDisconnectedError())
        mock.post(COMPOSITE, payload=_found("003000000000001AAA", JANE.email or ""))
        match, requests = await _look_up()
    assert match == Match("003000000000001AAA")
    assert requests == 2


async def test_a_batched_lookup_that_timed_out_is_not_asked_again() -> None:
    with aioresponses() as mock:
        mock.post(COMPOSITE, exception=TimeoutError())
        mock.post(COMPOSITE, payload=_found("003000000000001AAA", JANE.email or ""))
        match, requests = await _look_up()
    # No link now (the Case goes without its Contact); the query waited its time.
    assert match is None
    assert requests == 1
