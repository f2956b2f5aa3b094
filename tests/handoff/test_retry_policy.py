"""The one retry policy, seen from the outbox: a refusal from Salesforce is a dead
letter at once, with Salesforce's own words on the settings page; a failure to
reach Salesforce is retried until it goes through."""

from __future__ import annotations

import re

import aiohttp
from aioresponses import aioresponses
from handoff_support import cases, converse, handoff_and_wait

from opencx_salesforce.devhost.stack import Stack
from opencx_salesforce.devhost.waiting import wait_for
from opencx_salesforce.models import Role
from opencx_salesforce.outbox.policy import OutageGate
from opencx_salesforce.runtime import ROUTE_PREFIX
from opencx_salesforce.salesforce.errors import Unavailable
from opencx_salesforce.store.base import ItemState


async def test_a_refused_comment_is_a_dead_letter_on_the_first_attempt(stack: Stack) -> None:
    session = await converse(stack.host, texts=["Where is my parcel?"])
    case_id = await handoff_and_wait(stack.host, session.id)
    # An admin deletes the Case in Salesforce; the plugin still has it as open.
    stack.org.delete("Case", case_id)

    await stack.host.post_message(session.id, Role.CONTACT, "Hello? Anyone there?")

    async def dead() -> list[object]:
        return list(await stack.runtime.outbox.items(ItemState.DEAD))

    [letter] = await wait_for(dead, what="the append's dead letter")
    assert letter.item_id.startswith(f"append:{session.id}:")  # type: ignore[attr-defined]
    assert letter.attempts == 1  # type: ignore[attr-defined]
    # Salesforce's own code and message, as the collection answered them.
    assert "ENTITY_IS_DELETED" in letter.last_error  # type: ignore[attr-defined]
    assert "entity is deleted" in letter.last_error  # type: ignore[attr-defined]

    # The admin sees it on the settings page's status.
    async with (
        aiohttp.ClientSession() as http,
        http.get(
            f"{stack.host_url}{ROUTE_PREFIX}/admin/status.json",
            headers={"Authorization": f"Bearer {stack.host.settings.admin_token_value()}"},
        ) as response,
    ):
        assert response.status == 200
        status = await response.json()
    [shown] = status["outbox"]["dead_letters"]
    assert "entity is deleted" in shown["last_error"]


async def test_a_transport_error_is_retried_until_the_case_exists(stack: Stack) -> None:
    session = await converse(stack.host, texts=["Where is my parcel?"])
    with aioresponses(passthrough_unmatched=True) as mock:
        # The first composite request never reaches Salesforce; the rest do.
        mock.post(
            re.compile(r".*/composite$"),
            exception=aiohttp.ClientConnectionError("Connection reset by peer"),
        )
        case_id = await handoff_and_wait(stack.host, session.id)

    assert [c["Id"] for c in cases(stack)] == [case_id]
    assert stack.runtime.outbox.stats.retried == 1
    assert stack.runtime.outbox.stats.buried == 0

    async def acked() -> bool:  # the job leaves the outbox just after the link
        return await stack.runtime.outbox.items() == []

    await wait_for(acked, what="the handoff's job to leave the outbox")


def test_an_announced_outage_holds_the_work_but_one_probe_at_a_time_goes_early() -> None:
    gate = OutageGate()
    refused = Unavailable("down for maintenance", status=503, retry_after=60.0)
    # The job that got Retry-After: 60 waits it out in the queue.
    assert gate.note_failure("a", refused, now=0.0) == 60.0
    assert gate.holding(0.5) and gate.closed_until == 60.0
    assert gate.lease_wait(now=0.5) == 0.5  # nothing leased until the first probe
    assert gate.lease_wait(now=1.0) is None  # the first probe, 1 s in
    assert gate.lease_wait(now=1.2) == 1.8  # one probe at a time: the next at 3 s
    gate.note_failure("b", refused, now=1.3)  # still down: "b" waits its own 60 s
    assert gate.lease_wait(now=2.5) == 0.5
    assert gate.lease_wait(now=3.0) is None
    assert gate.lease_wait(now=3.1) == 3.9  # then 4 s later
    # The probe went through: the org is back, and the jobs that waited out
    # their own Retry-After are named, to be made due.
    assert gate.note_success() == {"a", "b"}
    assert gate.lease_wait(now=3.2) is None and not gate.holding(3.2)
    assert gate.probes == 2


def test_an_announced_outage_ends_by_itself_when_its_longest_wait_has_passed() -> None:
    gate = OutageGate(probe_cap=30.0)
    gate.note_failure("a", Unavailable("down", status=503, retry_after=3.0), now=0.0)
    gate.note_failure("b", Unavailable("down", status=503, retry_after=4.0), now=1.0)
    assert gate.closed_until == 5.0
    assert gate.lease_wait(now=1.0) is None  # the probe; the next at 3 s
    assert gate.lease_wait(now=3.0) is None  # the probe; the next at 7 s
    assert gate.lease_wait(now=4.5) == 0.5  # but the hold ends at 5 s
    assert gate.lease_wait(now=5.0) is None and gate.closed_until is None


def test_a_503_without_retry_after_is_not_an_announced_outage() -> None:
    gate = OutageGate()
    assert gate.note_failure("a", Unavailable("busy", status=503), now=0.0) is None
    assert gate.lease_wait(now=0.0) is None
