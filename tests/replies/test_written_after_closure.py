"""A contact's message written just after the rep closed the Case is never lost
(issue #15.1): whatever the timing, it reaches a follow-up Case linked to the
closed one by ``ParentId``, the session then points at it, and the session is
never resolved over the unread message.

The timings: the contact writes before the closure notification is handled; the
notification is handled while the message is still queued; the notification is
lost and the sweep comes while the message is queued, or late.
"""

from __future__ import annotations

import asyncio

from replies_support import (
    Node,
    Rep,
    World,
    WorldFactory,
    case_of,
    handed_off,
    idle,
    ring,
    sweep,
    wait_for,
)

from opencx_salesforce.apex import contract
from opencx_salesforce.models import HandoffReason, Role, Session, SessionStatus

UPDATED = contract.EVENT_CASE_UPDATED
LATE_WORDS = "Wait, one more thing: the parcel had a second box."


async def closed_by_rep(world: World) -> tuple[Session, str]:
    """A handed-off session whose Case the rep has just closed (nobody told yet)."""
    session = await handed_off(world.node)
    case_id = await case_of(world.node, session.id)
    Rep(world.org).set_status(case_id, "Closed")
    return session, case_id


async def follow_up_of(node: Node, session_id: str, closed_case: str) -> str:
    """The Case the session moved to after ``closed_case``."""

    async def moved() -> str | None:
        current = await node.host.get_session(session_id)
        assert current is not None
        case_id = current.metadata.get("salesforce_case_id")
        return str(case_id) if case_id and case_id != closed_case else None

    return str(await wait_for(moved, timeout=10.0, what="a follow-up Case"))


async def assert_carried_by_follow_up(world: World, session_id: str, closed_case: str) -> None:
    node = world.node
    follow_up = await follow_up_of(node, session_id, closed_case)
    case = world.org.get("Case", follow_up)
    assert case is not None and case["ParentId"] == closed_case and not case["IsClosed"]
    on_follow_up = [
        c["CommentBody"] for c in world.org.rows("CaseComment", False) if c["ParentId"] == follow_up
    ]
    assert any(LATE_WORDS in b for b in on_follow_up)
    await idle(world)
    current = await node.host.get_session(session_id)
    assert current is not None and current.status == SessionStatus.HANDED_OFF
    # A rep on the follow-up Case answers; the contact gets it.
    reply = Rep(world.org).comment(follow_up, "Got it, checking the second box.")
    await ring(world, node, contract.EVENT_CASE_COMMENT_CREATED, follow_up, reply)

    async def delivered() -> bool:
        now = await node.host.get_session(session_id)
        assert now is not None
        return any(m.external_id == reply for m in now.messages if m.role == Role.AGENT)

    await wait_for(delivered, what="the reply on the follow-up Case")


async def test_a_message_written_before_the_closure_notification_goes_to_a_follow_up_case(
    world: World,
) -> None:
    session, case_id = await closed_by_rep(world)
    await world.node.host.post_message(session.id, Role.CONTACT, LATE_WORDS)
    # The append's own read finds the Case closed: no notification needed.
    await follow_up_of(world.node, session.id, case_id)
    await ring(world, world.node, UPDATED, case_id, case_id)  # the notification, late
    await assert_carried_by_follow_up(world, session.id, case_id)
    assert world.node.runtime.reply_status.sessions_resolved == 0


async def test_a_message_still_queued_when_the_closure_is_handled_is_not_resolved_over(
    world: World,
) -> None:
    node = world.node
    session, case_id = await closed_by_rep(world)
    outbox = node.runtime.outbox
    await outbox.stop()  # hold the jobs so the order is the test's
    await ring(world, node, UPDATED, case_id, case_id)
    await asyncio.sleep(0.3)  # the notification's debounce: it is due first
    await node.host.post_message(session.id, Role.CONTACT, LATE_WORDS)
    assert await outbox.work_once()  # the closure, with the message still queued

    current = await node.host.get_session(session.id)
    assert current is not None and current.status == SessionStatus.HANDED_OFF
    outbox.start()
    await assert_carried_by_follow_up(world, session.id, case_id)


async def test_with_the_notification_lost_a_sweep_while_the_message_is_queued_leaves_it(
    world: World,
) -> None:
    node = world.node
    session, case_id = await closed_by_rep(world)
    outbox = node.runtime.outbox
    await outbox.stop()
    await node.host.post_message(session.id, Role.CONTACT, LATE_WORDS)
    world.emulator.state.clock.advance(1.0)
    await sweep(node.runtime)  # finds the closure; the message is still queued
    current = await node.host.get_session(session.id)
    assert current is not None and current.status == SessionStatus.HANDED_OFF
    outbox.start()
    await assert_carried_by_follow_up(world, session.id, case_id)


async def test_with_the_notification_lost_and_the_sweep_late_the_message_reaches_a_person(
    world: World,
) -> None:
    node = world.node
    session, case_id = await closed_by_rep(world)
    await node.host.post_message(session.id, Role.CONTACT, LATE_WORDS)
    await follow_up_of(node, session.id, case_id)
    world.emulator.state.clock.advance(1.0)
    await sweep(node.runtime)  # late: the closure is found after the message moved on
    await assert_carried_by_follow_up(world, session.id, case_id)
    assert node.runtime.reply_status.sessions_resolved == 0


async def test_host_hand_back_to_bot_after_closure_leaves_the_message_unanswered(
    make_world: WorldFactory,
) -> None:
    world = await make_world(after_closure="back_to_bot")
    node = await world.start_node()
    session, case_id = await closed_by_rep(world)
    cases_before = len(list(world.org.rows("Case", False)))
    await node.host.post_message(session.id, Role.CONTACT, LATE_WORDS)

    async def handed_back() -> Session | None:
        current = await node.host.get_session(session.id)
        assert current is not None
        return current if current.status == SessionStatus.OPEN else None

    current = await wait_for(handed_back, timeout=10.0, what="the session back with the bot")
    assert "was closed" in current.metadata["handed_back_reason"]
    assert current.messages[-1].text == LATE_WORDS  # unanswered, for the bot
    await ring(world, node, UPDATED, case_id, case_id)
    await idle(world)
    current = await node.host.get_session(session.id)
    assert current is not None and current.status == SessionStatus.OPEN  # never resolved
    assert len(list(world.org.rows("Case", False))) == cases_before  # no follow-up Case


async def test_a_handoff_after_being_given_back_to_the_bot_makes_a_new_case(
    make_world: WorldFactory,
) -> None:
    # The closure's notification is lost: the plugin learns of it only from the
    # append's read. The bot then hands the conversation off again; that handoff
    # had been taken for a duplicate of the first (its Case not known closed), so
    # the new words reached no Case.
    world = await make_world(after_closure="back_to_bot")
    node = await world.start_node()
    session, case_id = await closed_by_rep(world)
    await node.host.post_message(session.id, Role.CONTACT, LATE_WORDS)

    async def handed_back() -> bool:
        current = await node.host.get_session(session.id)
        assert current is not None
        return current.status == SessionStatus.OPEN

    await wait_for(handed_back, timeout=10.0, what="the session back with the bot")
    await node.host.post_message(session.id, Role.CONTACT, "A second problem: the invoice.")
    await node.host.handoff(session.id, HandoffReason(code="requested"))

    new_case = await follow_up_of(node, session.id, case_id)
    case = world.org.get("Case", new_case)
    assert case is not None and case["ParentId"] == case_id and not case["IsClosed"]
    bodies = [
        c["CommentBody"] for c in world.org.rows("CaseComment", False) if c["ParentId"] == new_case
    ]
    assert any("A second problem: the invoice." in b for b in bodies)
    current = await node.host.get_session(session.id)
    assert current is not None and current.status == SessionStatus.HANDED_OFF


async def test_an_append_on_an_open_case_still_costs_one_api_call(world: World) -> None:
    node = world.node
    session = await handed_off(node)
    case_id = await case_of(node, session.id)
    await idle(world)
    before = world.api_calls()
    await node.host.post_message(session.id, Role.CONTACT, "Still there?")

    async def landed() -> bool:
        rows = world.org.rows("CaseComment", False)
        return any("Still there?" in c["CommentBody"] for c in rows if c["ParentId"] == case_id)

    await wait_for(landed, what="the appended comment")
    await idle(world)
    # The comment and the read of IsClosed travel in one composite call.
    assert world.api_calls() - before == 1
    assert world.org.api_calls.by_endpoint["composite"] >= 1
