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
from opencx_salesforce.runtime import ROUTE_PREFIX
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
