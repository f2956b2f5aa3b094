"""Replies in one round trip, and a sweep that costs nothing when idle (issue #18;
replays, issue #16.10): the first notification for a Case is read at once, a burst
costs at most two reads, replays at most one read per Case per interval, and a
sweep makes no call with no open Case and one call when the webhooks missed
nothing."""

from __future__ import annotations

import asyncio
from typing import Any

from replies_support import (
    Rep,
    World,
    WorldFactory,
    agent_messages,
    case_of,
    handed_off,
    idle,
    ring,
    sweep,
    wait_for,
)

from opencx_salesforce.apex import contract
from opencx_salesforce.replies.service import NOTIFY_KIND

COMMENT = contract.EVENT_CASE_COMMENT_CREATED


def notify_delays(world: World) -> list[float]:
    """The delay of every read job the node queues from now on (the outbox's
    ``submit`` spied on)."""
    outbox = world.node.runtime.outbox
    delays: list[float] = []
    submit = outbox.submit

    async def spy(kind: str, item_id: str, payload: Any, *, delay: float = 0.0) -> bool:
        if kind == NOTIFY_KIND:
            delays.append(delay)
        return await submit(kind, item_id, payload, delay=delay)

    outbox.submit = spy  # type: ignore[method-assign]
    return delays


async def test_a_notification_read_starts_without_waiting_for_a_debounce(world: World) -> None:
    session = await handed_off(world.node)
    case_id = await case_of(world.node, session.id)
    comment = Rep(world.org).comment(case_id, "On its way.")
    delays = notify_delays(world)
    assert (await ring(world, world.node, COMMENT, case_id, comment)).status == 202
    assert delays == [0.0]  # queued ready now: the leading edge
    await wait_for(lambda: agent_messages(world.node, session.id), what="the reply")


async def test_a_burst_of_notifications_during_a_read_costs_at_most_two_reads(
    make_world: WorldFactory,
) -> None:
    world = await make_world(reply_read_min_interval_seconds=0.2)
    await world.start_node()
    session = await handed_off(world.node)
    case_id = await case_of(world.node, session.id)
    rep = Rep(world.org)
    first = rep.comment(case_id, "First.")
    ledger = world.node.runtime.replies.ledger
    world.org.faults.latency_ms = 300.0  # each read stays in flight a while
    queries = world.queries()
    await ring(world, world.node, COMMENT, case_id, first)

    async def reading() -> bool:
        return await ledger.epoch(case_id) >= 1  # bumped just before the read

    await wait_for(reading, what="the first read in flight")
    second = rep.comment(case_id, "Second.")
    answers = await asyncio.gather(
        *(ring(world, world.node, COMMENT, case_id, second) for _ in range(20))
    )
    assert all(a.status == 202 for a in answers)
    await idle(world)
    assert world.queries() - queries <= 2
    assert [m[0] for m in await agent_messages(world.node, session.id)] == ["First.", "Second."]


async def test_replayed_notifications_cost_at_most_one_read_per_case_per_interval(
    make_world: WorldFactory,
) -> None:
    world = await make_world(reply_read_min_interval_seconds=2.0)
    await world.start_node()
    session = await handed_off(world.node)
    case_id = await case_of(world.node, session.id)
    comment = Rep(world.org).comment(case_id, "Refund issued.")
    queries = world.queries()
    for _ in range(4):
        # Spaced wider than a debounce would coalesce (the old 250 ms): a replay
        # loop, each call accepted (a fresh signature within the window).
        assert (await ring(world, world.node, COMMENT, case_id, comment)).status == 202
        await asyncio.sleep(0.3)
    await idle(world)
    assert world.queries() - queries <= 2
    assert len(await agent_messages(world.node, session.id)) == 1


async def test_the_idle_sweep_makes_no_call_with_no_open_case(world: World) -> None:
    calls = world.api_calls()
    report = await sweep(world.node.runtime)
    assert report.idle and report.api_calls == 0
    assert world.api_calls() == calls

    # Once a Case is open, the sweep looks; once it is closed, it stops again.
    session = await handed_off(world.node)
    case_id = await case_of(world.node, session.id)
    assert (await sweep(world.node.runtime)).api_calls >= 1
    Rep(world.org).set_status(case_id, "Closed")
    await ring(world, world.node, contract.EVENT_CASE_UPDATED, case_id, case_id)
    await idle(world)
    calls = world.api_calls()
    assert (await sweep(world.node.runtime)).idle
    assert world.api_calls() == calls


async def test_a_sweep_after_healthy_webhooks_costs_one_call_and_the_next_comes_later(
    make_world: WorldFactory,
) -> None:
    # No hot spell here: the judgement of the webhooks alone (test_sweep_schedule
    # covers the hot spell on the plugin's clock).
    world = await make_world(sweep_hot_seconds=0)
    node = await world.start_node()
    sessions = [await handed_off(node) for _ in range(3)]
    case_ids = [await case_of(node, s.id) for s in sessions]
    await sweep(node.runtime)
    settings = node.runtime.settings
    world.emulator.state.clock.advance(1.0)
    rep = Rep(world.org)
    for case_id in case_ids:  # every reply's webhook arrives
        await ring(world, node, COMMENT, case_id, rep.comment(case_id, "Hello"))
    await idle(world)

    calls = world.api_calls()
    report = await sweep(node.runtime)
    assert report.api_calls == 1 and world.api_calls() - calls == 1  # discovery only
    assert report.delivered == 0
    assert (
        await node.runtime.sweeper.schedule.next_interval()
        == settings.sweep_healthy_interval_seconds
    )

    # A lost webhook: the sweep delivers it, and the next sweep comes promptly.
    world.emulator.state.clock.advance(1.0)
    lost = rep.comment(case_ids[0], "This webhook was lost.")
    report = await sweep(node.runtime)
    assert report.delivered == 1
    assert (await agent_messages(node, sessions[0].id))[-1][2] == lost
    assert await node.runtime.sweeper.schedule.next_interval() == settings.sweep_interval_seconds


async def test_a_notification_during_a_read_is_queued_for_right_after_it(world: World) -> None:
    """At the defaults nothing but the read in flight stands before the next read:
    no minimum spacing between a Case's reads."""
    assert world.node.runtime.settings.reply_read_min_interval_seconds == 0
    session = await handed_off(world.node)
    case_id = await case_of(world.node, session.id)
    rep = Rep(world.org)
    ledger = world.node.runtime.replies.ledger
    delays = notify_delays(world)
    world.org.faults.latency_ms = 300.0  # the first read stays in flight a while
    queries = world.queries()
    await ring(world, world.node, COMMENT, case_id, rep.comment(case_id, "First."))

    async def reading() -> bool:
        return await ledger.epoch(case_id) >= 1

    await wait_for(reading, what="the first read in flight")
    await ring(world, world.node, COMMENT, case_id, rep.comment(case_id, "Second."))
    assert delays == [0.0, 0.0]
    await idle(world)
    assert world.queries() - queries == 2
    assert [m[0] for m in await agent_messages(world.node, session.id)] == ["First.", "Second."]
