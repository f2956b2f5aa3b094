"""A closed Case resolves every session on it, once; a reopened Case is open
again; a closure nobody was told about is found by the sweep after a restart."""

from __future__ import annotations

from replies_support import (
    Rep,
    World,
    agent_messages,
    case_of,
    handed_off,
    idle,
    ring,
    sweep,
    wait_for,
)

from opencx_salesforce.apex import contract
from opencx_salesforce.models import Role, SessionStatus

UPDATED = contract.EVENT_CASE_UPDATED


async def _status(world: World, session_id: str) -> SessionStatus:
    session = await world.node.host.get_session(session_id)
    assert session is not None
    return session.status


async def test_a_closed_case_resolves_its_sessions_once(world: World) -> None:
    node = world.node
    first = await handed_off(node, email="kim@example.com")
    case_id = await case_of(node, first.id)
    second = await handed_off(node, email="kim@example.com")  # joins the open Case
    assert await case_of(node, second.id) == case_id
    rep = Rep(world.org)
    last_word = rep.comment(case_id, "Sorted: your refund is on its way. Closing this.")
    rep.set_status(case_id, "Closed")

    await ring(world, node, UPDATED, case_id, case_id)

    async def resolved() -> bool:
        return await _status(world, first.id) == await _status(world, second.id) == "resolved"

    await wait_for(resolved, what="both sessions resolved")
    # The rep's last reply came before the resolution.
    assert await agent_messages(node, second.id) == [
        ("Sorted: your refund is on its way. Closing this.", "Riley Rep", last_word)
    ]
    assert node.runtime.reply_status.sessions_resolved == 2

    # The contact writes again on the first session (the host reopens it); a late
    # or replayed "case.updated" must not resolve it a second time.
    await node.host.post_message(first.id, Role.CONTACT, "One more question.")
    assert await _status(world, first.id) == SessionStatus.OPEN
    reads = node.runtime.reply_status.notifications_read
    await ring(world, node, UPDATED, case_id, case_id)

    async def read_again() -> bool:
        return node.runtime.reply_status.notifications_read > reads

    await wait_for(read_again, what="the second read")
    await idle(world)
    assert await _status(world, first.id) == SessionStatus.OPEN
    assert node.runtime.reply_status.sessions_resolved == 2
    assert (await sweep(node.runtime)).resolved == 0


async def test_a_reopened_case_is_open_again_for_the_next_message(world: World) -> None:
    node = world.node
    session = await handed_off(node, email="lee@example.com")
    case_id = await case_of(node, session.id)
    rep = Rep(world.org)
    rep.set_status(case_id, "Closed")
    await ring(world, node, UPDATED, case_id, case_id)

    async def closed() -> bool:
        entry = await node.runtime.index.case(case_id)
        return bool(entry and entry.closed)

    await wait_for(closed, what="the index to say closed")
    rep.set_status(case_id, "Working")
    await ring(world, node, UPDATED, case_id, case_id)

    async def reopened() -> bool:
        entry = await node.runtime.index.case(case_id)
        return bool(entry and not entry.closed)

    await wait_for(reopened, what="the index to say open again")
    # Closed again later: resolved again (a new closure, not a repeat).
    await node.host.post_message(session.id, Role.CONTACT, "Hello?")
    rep.set_status(case_id, "Closed")
    await ring(world, node, UPDATED, case_id, case_id)

    async def resolved_twice() -> bool:
        return node.runtime.reply_status.sessions_resolved == 2

    await wait_for(resolved_twice, what="the second closure")


async def test_a_case_closed_while_the_host_was_down_is_resolved_by_the_sweep_after_restart(
    world: World,
) -> None:
    node = world.node
    session = await handed_off(node)
    case_id = await case_of(node, session.id)
    await world.stop_node(node)

    # The rep answers and closes while no host is listening: the Apex callouts
    # fail and are not retried.
    rep = Rep(world.org)
    world.emulator.state.clock.advance(1.0)
    reply = rep.comment(case_id, "Replacement shipped, closing.")
    rep.set_status(case_id, "Closed")

    restarted = await world.start_node()  # the start-up sweep runs here

    async def resolved() -> bool:
        current = await restarted.host.get_session(session.id)
        return current is not None and current.status == SessionStatus.RESOLVED

    await wait_for(resolved, what="the start-up sweep to resolve the session")
    assert await agent_messages(restarted, session.id) == [
        ("Replacement shipped, closing.", "Riley Rep", reply)
    ]
    report = restarted.runtime.reply_status.last_sweep
    assert report is not None and report.resolved == 1 and report.delivered == 1
