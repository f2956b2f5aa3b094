"""Three host instances on one store sweep, together, at the cadence one would
(replies/sweep_turns.py): each instance's wait counts from the last sweep any of
them ran, and one whose wait ends after another swept lets its turn pass. Each
instance sweeping on its own schedule cost three times the documented calls a
day (21, 9 and 21 sweeps in 13 minutes, measured on PostgreSQL). A lost
webhook's reply still arrives within a minute, and a refusal seen by an
instance that is not sweeping still brings the next sweep forward.

All three run on one ManualClock: hours pass in seconds."""

from __future__ import annotations

from replies_support import (
    Rep,
    World,
    WorldFactory,
    agent_messages,
    case_of,
    handed_off,
    idle,
    ring,
)
from test_sweep_schedule import DEFAULTS, run_clock

from opencx_salesforce.apex import contract
from opencx_salesforce.clock import ManualClock
from opencx_salesforce.models import Role

COMMENT = contract.EVENT_CASE_COMMENT_CREATED
INSTANCES = 3
HOUR = 3600.0
PROMPT = DEFAULTS["sweep_interval_seconds"]
QUIET = DEFAULTS["sweep_healthy_interval_seconds"]


async def _three(make_world: WorldFactory) -> tuple[World, ManualClock]:
    world = await make_world(**DEFAULTS)
    clock = ManualClock()
    for _ in range(INSTANCES):
        await world.start_node(clock=clock)
    return world, clock


async def _run_clock(world: World, clock: ManualClock, seconds: float) -> None:
    """Let ``seconds`` of the plugins' time pass, waking each loop when it asked."""
    await run_clock(world.node, clock, seconds, loops=len(world.nodes))


def _sweeps(world: World) -> int:
    return sum(n.runtime.reply_status.sweeps for n in world.nodes)


def _skipped(world: World) -> int:
    return sum(n.runtime.reply_status.sweeps_skipped for n in world.nodes)


async def test_three_instances_with_no_open_case_sweep_as_often_as_one(
    make_world: WorldFactory,
) -> None:
    world, clock = await _three(make_world)
    sweeps = _sweeps(world)
    await _run_clock(world, clock, HOUR)
    done = _sweeps(world) - sweeps
    # One instance: an idle sweep each prompt interval (its jitter: 0.9 to 1.0 of it).
    one = HOUR / PROMPT
    assert one * 0.9 <= done <= one / 0.9 + 1, done
    assert _skipped(world) >= done  # the others let each turn pass


async def test_three_instances_on_a_quiet_day_cost_the_calls_of_one(
    make_world: WorldFactory,
) -> None:
    world, clock = await _three(make_world)
    first = world.nodes[0]
    sessions = [await handed_off(first) for _ in range(3)]
    rep = Rep(world.org)
    for node, session in zip(world.nodes, sessions, strict=True):  # every webhook arrives
        case_id = await case_of(first, session.id)
        await ring(world, node, COMMENT, case_id, rep.comment(case_id, "On it."))
    await idle(world)
    await _run_clock(world, clock, DEFAULTS["sweep_hot_seconds"] + 2 * PROMPT)
    calls = world.api_calls()
    await _run_clock(world, clock, 6 * HOUR)
    spent = world.api_calls() - calls
    one = 6 * HOUR / QUIET  # one call a sweep, every quiet interval: 72
    # Three jitters, the first wait to end takes the turn: a little more often.
    assert one * 0.9 <= spent <= one * 1.1, spent
    assert sum(n.runtime.reply_status.delivered_by_sweep for n in world.nodes) == 0


async def _delivered_within(
    world: World, clock: ManualClock, session_id: str, record_id: str, bound: float
) -> float:
    started = clock.time()
    while clock.time() - started <= bound + 1:
        if record_id in [m[2] for m in await agent_messages(world.node, session_id)]:
            return clock.time() - started
        await _run_clock(world, clock, 1.0)
    raise AssertionError(f"reply {record_id} not delivered within {bound:.0f} s of clock time")


async def test_a_lost_webhooks_reply_still_arrives_within_a_minute_with_three_instances(
    make_world: WorldFactory,
) -> None:
    world, clock = await _three(make_world)
    node = world.nodes[1]
    session = await handed_off(node)
    case_id = await case_of(node, session.id)
    await _run_clock(world, clock, 3 * HOUR)  # quiet: rare sweeps, whoever takes them
    await node.host.post_message(session.id, Role.CONTACT, "Any news?")  # in progress
    await idle(world)
    await _run_clock(world, clock, 20)
    lost = Rep(world.org).comment(case_id, "It left the depot.")  # its webhook is lost
    took = await _delivered_within(world, clock, session.id, lost, PROMPT)
    assert took <= PROMPT


async def test_a_refusal_seen_by_an_instance_that_is_not_sweeping_brings_a_sweep(
    make_world: WorldFactory,
) -> None:
    world, clock = await _three(make_world)
    await handed_off(world.node)
    await _run_clock(world, clock, 3 * HOUR)  # healthy and quiet: the long interval
    before = [n.runtime.reply_status.sweeps for n in world.nodes]
    while [n.runtime.reply_status.sweeps for n in world.nodes] == before:
        await _run_clock(world, clock, 1.0)  # just after a sweep: the next is minutes away
    sweeps = _sweeps(world)
    # Refused on an instance that did not take that turn: the next turn is
    # prompt for it, and no one swept since, so it sweeps.
    other = next(
        n for n, b in zip(world.nodes, before, strict=True) if n.runtime.reply_status.sweeps == b
    )
    other.runtime.reply_status.webhooks_refused["signature"] += 1
    await _run_clock(world, clock, PROMPT * 1.05)
    assert _sweeps(world) == sweeps + 1
