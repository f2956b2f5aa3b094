"""Nothing lost at the edges of a Case's life (issue #15.2-#15.4): an email sent
from a draft, a comment made public later, a Case merged into another or deleted.

Everything goes through the real paths: the generated package deployed in the
emulated org rings the host's webhook (or, with the org's webhooks dropped, does
not), the rep works the Case over the emulator's HTTP rep API, and what the
contact sees is read from the reference host's session."""

from __future__ import annotations

from typing import Any

from replies_support import (
    World,
    act,
    agent_messages,
    case_of,
    handed_off,
    idle,
    settled,
    sweep,
    wait_for,
)

from opencx_salesforce.emulator.package.runtime import ApexRuntime
from opencx_salesforce.models import SessionStatus


async def replies_on(world: World, session_id: str) -> list[tuple[str, str | None]]:
    return [(text, record) for text, _, record in await agent_messages(world.node, session_id)]


async def _opened(world: World) -> tuple[str, str]:
    session = await handed_off(world.node)
    return session.id, await case_of(world.node, session.id)


# --- #15.2 drafts --------------------------------------------------------------------


async def test_an_email_sent_from_a_draft_is_delivered_once_by_its_webhook(
    world: World, apex: ApexRuntime
) -> None:
    session_id, case_id = await _opened(world)
    clock = world.emulator.state.clock
    draft = (await act(world, case_id, "draft", text="Your refund is on its way."))["id"]
    clock.advance(2.0)
    # A reply written after the draft: its read moves the Case's cursor past the
    # draft's CreatedDate.
    later = (await act(world, case_id, "reply", text="Checking with the warehouse."))["id"]
    await settled(world, apex)
    assert await replies_on(world, session_id) == [("Checking with the warehouse.", later)]

    clock.advance(2.0)
    await act(world, case_id, "send", emailId=draft)
    await settled(world, apex)
    assert await replies_on(world, session_id) == [
        ("Checking with the warehouse.", later),
        ("Your refund is on its way.", draft),
    ]
    # Read again by a sweep: still once.
    await sweep(world.node.runtime)
    await idle(world)
    assert len(await replies_on(world, session_id)) == 2


async def test_an_email_sent_from_a_draft_is_delivered_once_by_the_sweep_when_its_webhook_is_lost(
    world: World, apex: ApexRuntime
) -> None:
    session_id, case_id = await _opened(world)
    clock = world.emulator.state.clock
    draft = (await act(world, case_id, "draft", text="A replacement ships today."))["id"]
    clock.advance(2.0)
    later = (await act(world, case_id, "reply", text="One moment please."))["id"]
    await settled(world, apex)
    await sweep(world.node.runtime)  # the sweep's own cursor passes the draft too

    apex.faults.drop_rate = 1.0  # the org's callouts are lost from here on
    clock.advance(2.0)
    await act(world, case_id, "send", emailId=draft)
    await settled(world, apex)
    assert await replies_on(world, session_id) == [("One moment please.", later)]

    report = await sweep(world.node.runtime)
    await idle(world)
    assert report.delivered == 1
    assert await replies_on(world, session_id) == [
        ("One moment please.", later),
        ("A replacement ships today.", draft),
    ]
    await sweep(world.node.runtime)
    await idle(world)
    assert len(await replies_on(world, session_id)) == 2


# --- #15.3 comments made public later ----------------------------------------------------


async def test_a_comment_made_public_later_is_delivered_once_by_its_webhook(
    world: World, apex: ApexRuntime
) -> None:
    session_id, case_id = await _opened(world)
    clock = world.emulator.state.clock
    note = (await act(world, case_id, "note", text="We will send a new parcel."))["id"]
    clock.advance(2.0)
    later = (await act(world, case_id, "reply", text="Looking into it."))["id"]
    await settled(world, apex)
    assert await replies_on(world, session_id) == [("Looking into it.", later)]

    clock.advance(2.0)
    await act(world, case_id, "publish", commentId=note)
    await settled(world, apex)
    assert await replies_on(world, session_id) == [
        ("Looking into it.", later),
        ("We will send a new parcel.", note),
    ]
    await sweep(world.node.runtime)
    await idle(world)
    assert len(await replies_on(world, session_id)) == 2


async def test_a_comment_made_public_later_is_delivered_once_by_the_sweep_when_its_webhook_is_lost(
    world: World, apex: ApexRuntime
) -> None:
    session_id, case_id = await _opened(world)
    clock = world.emulator.state.clock
    note = (await act(world, case_id, "note", text="Refund approved."))["id"]
    clock.advance(2.0)
    await act(world, case_id, "reply", text="Let me check.")
    await settled(world, apex)
    await sweep(world.node.runtime)

    apex.faults.drop_rate = 1.0
    clock.advance(2.0)
    await act(world, case_id, "publish", commentId=note)
    await settled(world, apex)
    assert len(await replies_on(world, session_id)) == 1

    report = await sweep(world.node.runtime)
    await idle(world)
    assert report.delivered == 1
    assert (await replies_on(world, session_id))[-1] == ("Refund approved.", note)
    await sweep(world.node.runtime)
    await idle(world)
    assert len(await replies_on(world, session_id)) == 2


# --- #15.4 merged and deleted Cases --------------------------------------------------------


async def _merge_target(world: World) -> str:
    """A Case the rep keeps (say one Email-to-Case made), not the plugin's."""
    return world.org.create("Case", {"Subject": "Parcel (by email)", "Origin": "Email"})


async def _metadata(world: World, session_id: str) -> dict[str, Any]:
    session = await world.node.host.get_session(session_id)
    assert session is not None
    return dict(session.metadata)


async def _merged_session_follows_the_survivor(
    world: World, apex: ApexRuntime, session_id: str, case_id: str, master: str
) -> None:
    meta = await _metadata(world, session_id)
    assert meta["salesforce_case_id"] == master
    assert (
        meta["salesforce_case_url"].endswith(master) or master[:15] in meta["salesforce_case_url"]
    )
    assert meta["salesforce_case_outcome"] == "merged"
    assert meta["salesforce_merged_from"] == case_id
    session = await world.node.host.get_session(session_id)
    assert session is not None and session.status is not SessionStatus.RESOLVED
    # The rep answers on the surviving Case: it reaches the contact, by webhook
    # (the survivor now carries the plugin's Case_From__c, so the package rings).
    reply = (await act(world, master, "reply", text="Merged your two requests."))["id"]
    await settled(world, apex)
    assert (await replies_on(world, session_id))[-1] == ("Merged your two requests.", reply)


async def test_a_case_merged_into_another_moves_its_session_there_by_webhook(
    world: World, apex: ApexRuntime
) -> None:
    session_id, case_id = await _opened(world)
    master = await _merge_target(world)
    body = await act(world, case_id, "merge", into=master)
    assert body["isDeleted"] and body["masterRecordId"] == master
    await settled(world, apex)
    await wait_for(
        lambda: _is_on(world, session_id, master), what="the session moved to the survivor"
    )
    await _merged_session_follows_the_survivor(world, apex, session_id, case_id, master)


async def test_a_case_merged_into_another_moves_its_session_there_by_the_sweep(
    world: World, apex: ApexRuntime
) -> None:
    session_id, case_id = await _opened(world)
    master = await _merge_target(world)
    await sweep(world.node.runtime)
    apex.faults.drop_rate = 1.0
    world.emulator.state.clock.advance(2.0)
    await act(world, case_id, "merge", into=master)
    await settled(world, apex)
    assert (await _metadata(world, session_id))["salesforce_case_id"] == case_id

    report = await sweep(world.node.runtime)
    await idle(world)
    assert report.moved == 1
    apex.faults.drop_rate = 0.0
    await _merged_session_follows_the_survivor(world, apex, session_id, case_id, master)


async def _is_on(world: World, session_id: str, case_id: str) -> bool:
    return (await _metadata(world, session_id)).get("salesforce_case_id") == case_id


async def _resolved_as_deleted(world: World, session_id: str) -> bool:
    session = await world.node.host.get_session(session_id)
    assert session is not None
    return (
        session.status is SessionStatus.RESOLVED
        and session.metadata.get("salesforce_case_outcome") == "deleted"
    )


async def test_a_deleted_case_resolves_its_session_saying_so_by_webhook(
    world: World, apex: ApexRuntime
) -> None:
    session_id, case_id = await _opened(world)
    await act(world, case_id, "delete")
    await settled(world, apex)
    await wait_for(lambda: _resolved_as_deleted(world, session_id), what="the session resolved")
    assert world.node.runtime.reply_status.sessions_resolved == 1


async def test_deleted_cases_resolve_their_sessions_by_the_sweep_in_bulk(
    world: World, apex: ApexRuntime
) -> None:
    opened = [await _opened(world) for _ in range(5)]
    await sweep(world.node.runtime)
    apex.faults.drop_rate = 1.0
    world.emulator.state.clock.advance(2.0)
    for _, case_id in opened:
        await act(world, case_id, "delete")
    await settled(world, apex)
    assert not [s for s, _ in opened if await _resolved_as_deleted(world, s)]

    calls = world.api_calls()
    report = await sweep(world.node.runtime)
    assert report.resolved == 5
    assert world.api_calls() - calls == 2  # one discovery, one read of the five Cases
    for session_id, _ in opened:
        assert await _resolved_as_deleted(world, session_id)
    # Seen again (a late webhook, the next sweep): resolved once.
    report = await sweep(world.node.runtime)
    assert report.resolved == 0
    assert world.node.runtime.reply_status.sessions_resolved == 5


async def test_a_case_merged_into_another_contacts_case_resolves_its_session_instead(
    world: World, apex: ApexRuntime
) -> None:
    # Both Cases are the plugin's, of two different people: the first person's
    # conversation must not start receiving the replies written to the second.
    first_session, first_case = await _opened(world)
    second_session, second_case = await _opened(world)
    await act(world, first_case, "merge", into=second_case)
    await settled(world, apex)

    async def resolved() -> bool:
        session = await world.node.host.get_session(first_session)
        return session is not None and session.status is SessionStatus.RESOLVED

    await wait_for(resolved, what="the merged-away session resolved")
    meta = await _metadata(world, first_session)
    assert meta["salesforce_case_outcome"] == "merged"
    assert meta["salesforce_case_id"] == first_case
    reply = (await act(world, second_case, "reply", text="For the second person."))["id"]
    await settled(world, apex)
    assert await replies_on(world, second_session) == [("For the second person.", reply)]
    assert await replies_on(world, first_session) == []
