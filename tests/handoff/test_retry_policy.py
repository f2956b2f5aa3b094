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
    assert await stack.runtime.outbox.items() == []


def test_an_announced_outage_holds_the_work_but_one_probe_at_a_time_goes_early() -> None:
    gate = OutageGate()
    refused = Unavailable("down for maintenance", status=503, retry_after=60.0)
    # The job that got Retry-After: 60 is held, looking again every second.
    assert gate.note_failure("a", refused, now=0.0) == 1.0
    assert gate.admit("a", now=1.0) == 2.0  # not re-sent: its own Retry-After stands
    assert gate.admit("b", now=0.5) == 1.5  # held: no point sending into a 503
    assert gate.admit("b", now=1.0) is None  # the first probe, 1 s in
    assert gate.admit("c", now=1.2) == 2.2  # one probe at a time
    gate.note_failure("b", refused, now=1.3)  # still down
    assert gate.admit("c", now=2.5) == 3.5  # the next probe comes 2 s later
    assert gate.admit("c", now=3.0) is None
    gate.note_success()  # the probe went through: the org is back
    assert gate.admit("a", now=3.1) is None and gate.admit("b", now=3.1) is None
    assert gate.probes == 2


def test_a_503_without_retry_after_is_not_an_announced_outage() -> None:
    gate = OutageGate()
    assert gate.note_failure("a", Unavailable("busy", status=503), now=0.0) is None
    assert gate.admit("b", now=0.0) is None
