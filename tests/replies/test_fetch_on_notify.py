"""A webhook rings; the plugin reads the Case with its own token (one query) and
delivers only the support team's public replies, each once, in order."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from replies_support import (
    ADMIN,
    PORTAL_USER,
    Rep,
    World,
    WorldFactory,
    agent_messages,
    case_of,
    handed_off,
    idle,
    ring,
    wait_for,
)

from opencx_salesforce.apex import contract
from opencx_salesforce.models import Contact, HandoffReason, Role
from opencx_salesforce.replies import service

COMMENT = contract.EVENT_CASE_COMMENT_CREATED
EMAIL = contract.EVENT_EMAIL_MESSAGE_CREATED


async def _opened(world: World) -> tuple[str, str]:
    session = await handed_off(world.node)
    return session.id, await case_of(world.node, session.id)


async def _messages_after_read(
    world: World, session_id: str, reads: int
) -> list[tuple[str, str | None, str | None]]:
    """The session's agent messages once ``reads`` notify reads have happened."""
    status = world.node.runtime.reply_status

    async def read() -> bool:
        return status.notifications_read >= reads

    await wait_for(read, what=f"{reads} notify read(s)")
    await idle(world)
    return await agent_messages(world.node, session_id)


async def test_a_public_rep_reply_reaches_the_session_within_one_webhook(world: World) -> None:
    session_id, case_id = await _opened(world)
    comment_id = Rep(world.org).comment(case_id, "Hi Jane, I have reopened the shipment.")
    queries = world.queries()

    assert (await ring(world, world.node, COMMENT, case_id, comment_id)).status == 202

    async def delivered() -> list[tuple[str, str | None, str | None]]:
        return await agent_messages(world.node, session_id)

    messages = await wait_for(delivered, what="the rep's reply")
    assert messages == [("Hi Jane, I have reopened the shipment.", "Riley Rep", comment_id)]
    assert world.queries() - queries == 1  # one read for one notification
    status = world.node.runtime.reply_status
    assert status.deliveries == 1
    assert status.last_delivery_latency is not None and 0 <= status.last_delivery_latency < 10


async def test_an_internal_note_never_reaches_the_contact(world: World) -> None:
    session_id, case_id = await _opened(world)
    note = Rep(world.org).comment(case_id, "Customer seems upset, escalate?", public=False)
    await ring(world, world.node, COMMENT, case_id, note)
    assert await _messages_after_read(world, session_id, 1) == []


async def test_a_portal_users_public_comment_is_not_a_rep_reply(world: World) -> None:
    session_id, case_id = await _opened(world)
    portal = Rep(world.org, PORTAL_USER).comment(case_id, "Any news?")
    await ring(world, world.node, COMMENT, case_id, portal)
    assert await _messages_after_read(world, session_id, 1) == []
    assert world.node.runtime.reply_status.skipped_records["not written by the support team"] == 1


async def test_the_plugins_own_transcript_never_comes_back(make_world: WorldFactory) -> None:
    # Published transcripts are public comments written by the plugin's own user.
    world = await make_world(publish_transcript=True)
    await world.start_node()
    session_id, case_id = await _opened(world)
    transcript = [r["Id"] for r in world.org.rows("CaseComment", False) if r["ParentId"] == case_id]
    assert transcript and all(
        r["IsPublished"] for r in world.org.rows("CaseComment", False) if r["ParentId"] == case_id
    )
    for comment_id in transcript:
        await ring(world, world.node, COMMENT, case_id, comment_id)
    assert await _messages_after_read(world, session_id, 1) == []

    # The contact writes again: the appended transcript does not come back either.
    await world.node.host.post_message(session_id, Role.CONTACT, "Still nothing here.")

    async def appended() -> list[str]:
        rows = [r for r in world.org.rows("CaseComment", False) if r["ParentId"] == case_id]
        return [r["Id"] for r in rows if r["Id"] not in transcript]

    [appended_id] = await wait_for(appended, what="the appended transcript")
    await ring(world, world.node, COMMENT, case_id, appended_id)
    assert await _messages_after_read(world, session_id, 2) == []


async def test_a_reply_by_the_integration_user_is_still_a_reply(world: World) -> None:
    # The plugin's own user may be a rep too: what marks the plugin's comments is
    # the index of their Ids, not who wrote them.
    session_id, case_id = await _opened(world)
    comment_id = Rep(world.org, ADMIN).comment(case_id, "Ada here, I will take this one.")
    await ring(world, world.node, COMMENT, case_id, comment_id)
    messages = await _messages_after_read(world, session_id, 1)
    assert messages == [("Ada here, I will take this one.", "Ada Admin", comment_id)]


async def test_an_outgoing_email_reply_reaches_the_contact_without_its_quoted_history(
    world: World,
) -> None:
    session_id, case_id = await _opened(world)
    rep = Rep(world.org)
    incoming = rep.email(case_id, "It still has not arrived.", incoming=True)
    draft = rep.email(case_id, "Draft, not sent", status="5")
    text = (
        "Hello Jane,\n\nA new parcel left our warehouse today.\n\nRiley\n\n"
        "On Tue, Nov 25, 2026 at 01:00, Jane Doe <jane@example.com> wrote:\n"
        "> Where is my parcel?\n"
    )
    sent = rep.email(case_id, text)
    for record in (incoming, draft, sent):
        await ring(world, world.node, EMAIL, case_id, record)
    messages = await _messages_after_read(world, session_id, 1)
    assert messages == [
        ("Hello Jane,\n\nA new parcel left our warehouse today.\n\nRiley", "Riley Rep", sent)
    ]


async def test_a_valid_call_naming_a_case_with_nothing_new_delivers_nothing(world: World) -> None:
    session_id, case_id = await _opened(world)
    queries = world.queries()
    await ring(world, world.node, contract.EVENT_CASE_UPDATED, case_id, case_id)
    assert await _messages_after_read(world, session_id, 1) == []
    assert world.queries() - queries == 1


async def test_a_call_naming_a_case_the_plugin_never_made_costs_no_read(world: World) -> None:
    # No handoff is pending whose Case it could be (below): dropped at once.
    other = world.org.create("Case", {"Subject": "Not from the bot"})
    queries = world.queries()
    answer = await ring(world, world.node, contract.EVENT_CASE_UPDATED, other, other)
    assert answer.status == 202
    await idle(world)
    assert world.queries() == queries
    assert world.node.runtime.reply_status.skipped_records["unknown case"] == 1


async def test_a_replayed_call_delivers_once(world: World) -> None:
    session_id, case_id = await _opened(world)
    comment_id = Rep(world.org).comment(case_id, "Refund issued.")
    status = world.node.runtime.reply_status
    for _ in range(3):
        await ring(world, world.node, COMMENT, case_id, comment_id)
        messages = await _messages_after_read(world, session_id, 1)
        assert messages == [("Refund issued.", "Riley Rep", comment_id)]
    # Once the reply is delivered, the same call again reads nothing.
    assert status.notifications_read == 1
    assert status.skipped_records["doorbell for a delivered reply"] == 2


async def test_notifications_for_one_case_arriving_together_cost_one_read(world: World) -> None:
    session_id, case_id = await _opened(world)
    rep = Rep(world.org)
    ids = [rep.comment(case_id, f"Update {n}") for n in range(5)]
    queries = world.queries()

    answers = await asyncio.gather(
        *(ring(world, world.node, COMMENT, case_id, i) for i in ids),
        ring(world, world.node, contract.EVENT_CASE_UPDATED, case_id, case_id),
    )

    assert all(a.status == 202 for a in answers)
    assert sum(a.body["coalesced"] for a in answers) == len(answers) - 1
    messages = await _messages_after_read(world, session_id, 1)
    assert [m[0] for m in messages] == [f"Update {n}" for n in range(5)]
    assert world.queries() - queries == 1
    assert world.node.runtime.reply_status.notifications_read == 1


async def test_replies_arrive_in_the_order_they_were_written(world: World) -> None:
    session_id, case_id = await _opened(world)
    rep = Rep(world.org)
    written = []
    for n in range(6):
        # Distinct CreatedDates: records of one instant are ordered by Id, which
        # says nothing about which was written first.
        world.emulator.state.clock.advance(1.0)
        if n % 2:
            written.append(rep.email(case_id, f"Email {n}"))
        else:
            written.append(rep.comment(case_id, f"Comment {n}"))
    # The webhooks come in any order, one at a time: the first one's read finds
    # all six, in order; the later ones ring for replies already delivered.
    for record in reversed(written):
        await ring(
            world, world.node, COMMENT if record.startswith("00a") else EMAIL, case_id, record
        )
        await _messages_after_read(world, session_id, 1)
    messages = await agent_messages(world.node, session_id)
    assert [m[2] for m in messages] == written


async def test_a_reply_goes_to_the_contacts_most_recent_session(world: World) -> None:
    node = world.node
    first = await handed_off(node, email="sam@example.com")
    case_id = await case_of(node, first.id)
    # The same contact opens a new conversation while the Case is open: it joins
    # the Case, and replies now go there.
    second = await handed_off(node, email="sam@example.com")
    assert await case_of(node, second.id) == case_id
    comment_id = Rep(world.org).comment(case_id, "Replying on the newest thread.")
    await ring(world, node, COMMENT, case_id, comment_id)
    assert await _messages_after_read(world, second.id, 1) == [
        ("Replying on the newest thread.", "Riley Rep", comment_id)
    ]
    assert await agent_messages(node, first.id) == []


async def test_every_notification_costs_at_most_one_salesforce_call(world: World) -> None:
    session_id, case_id = await _opened(world)
    rep = Rep(world.org)
    calls = world.api_calls()
    for n in range(5):
        record = rep.comment(case_id, f"Note {n}", public=n % 2 == 0)
        await ring(world, world.node, COMMENT, case_id, record)
        await _messages_after_read(world, session_id, n + 1)
    status = world.node.runtime.reply_status
    assert world.api_calls() - calls <= status.webhooks_accepted
    assert [m[0] for m in await agent_messages(world.node, session_id)] == [
        "Note 0",
        "Note 2",
        "Note 4",
    ]


async def test_transcript_comments_are_known_before_their_ids_are(make_world: WorldFactory) -> None:
    """A webhook read racing the handoff (or a crash before the plugin wrote the new
    comments' Ids down) still never echoes the transcript: the plugin remembers the
    bodies it is about to write before it sends them."""
    from opencx_salesforce.cases.index import NS

    world = await make_world(publish_transcript=True)
    await world.start_node()
    session_id, case_id = await _opened(world)
    store = world.node.host.store
    for key in await store.keys(NS, "own:"):  # the Ids were never recorded
        await store.delete(NS, key)
    transcript = [r["Id"] for r in world.org.rows("CaseComment", False) if r["ParentId"] == case_id]
    for comment_id in transcript:
        await ring(world, world.node, COMMENT, case_id, comment_id)
    assert await _messages_after_read(world, session_id, 1) == []


async def test_a_reply_rung_before_its_case_is_linked_is_read_once_it_is(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A rep can reply as soon as the Case exists; the index links it a moment
    # later (two minutes later when a crash cut the handoff off, and its retry
    # links it). The doorbell rung in between was skipped as an unknown Case
    # and acked: the reply was never read (an outside multi-instance check lost
    # 14 of 40 replies with one kill -9).
    monkeypatch.setattr(service, "UNKNOWN_CASE_POLL", 0.1)
    index = world.node.runtime.index
    link = index.link_session
    held = asyncio.Event()
    linking = asyncio.Event()

    async def slow_link(*args: Any, **kwargs: Any) -> Any:
        linking.set()
        await held.wait()
        return await link(*args, **kwargs)

    monkeypatch.setattr(index, "link_session", slow_link)
    host = world.node.host
    session = await host.create_session(
        contact=Contact(name="Jane Doe", email="early@example.com"), topic="Early reply"
    )
    await host.post_message(session.id, Role.CONTACT, "Where is my parcel?")
    await host.handoff(session.id, HandoffReason(code="requested"))
    await linking.wait()  # the Case is in Salesforce; the index does not know it
    case_id = await case_of(world.node, session.id)
    comment_id = Rep(world.org).comment(case_id, "Looking into it now.")
    assert (await ring(world, world.node, COMMENT, case_id, comment_id)).status == 202
    await asyncio.sleep(0.5)  # the doorbell's job runs, and waits
    held.set()

    async def delivered() -> list[tuple[str, str | None, str | None]]:
        return await agent_messages(world.node, session.id)

    messages = await wait_for(delivered, what="the rep's early reply")
    assert messages == [("Looking into it now.", "Riley Rep", comment_id)]
    assert world.node.runtime.reply_status.skipped_records["unknown case"] == 0
