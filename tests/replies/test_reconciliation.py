"""Webhooks get lost (Apex callouts are not retried) and duplicated: every reply
still arrives exactly once, in order, after at most one sweep; the sweep's cost
is bounded and visible, and its cursor survives a restart."""

from __future__ import annotations

import asyncio
import random
from typing import Any

import pytest
from replies_support import (
    Rep,
    World,
    agent_messages,
    case_of,
    handed_off,
    idle,
    ring,
    sweep,
)

from opencx_salesforce.apex import contract
from opencx_salesforce.replies import sweep as sweep_module
from opencx_salesforce.replies.ledger import NS
from opencx_salesforce.replies.sweep import STATE_KEY
from opencx_salesforce.store.lock import LOCKS_NS

COMMENT = contract.EVENT_CASE_COMMENT_CREATED
EMAIL = contract.EVENT_EMAIL_MESSAGE_CREATED


async def test_lost_and_duplicated_webhooks_still_deliver_each_reply_once_in_order(
    world: World,
) -> None:
    node = world.node
    rng = random.Random(20261125)
    sessions = [await handed_off(node) for _ in range(20)]
    case_ids = [await case_of(node, s.id) for s in sessions]
    # A sweep now, so the Cases themselves are old news to the next one: what it
    # finds later it can only find through the comments and emails.
    await sweep(node.runtime)
    rep = Rep(world.org)
    written: dict[str, list[str]] = {s.id: [] for s in sessions}
    # Exactly 30 of the 100 webhooks lost, 20 of the others sent twice.
    dropped = set(rng.sample(range(100), 30))
    duplicated = set(rng.sample(sorted(set(range(100)) - dropped), 20))
    sent = 0
    queries = world.queries()

    for round_ in range(5):
        world.emulator.state.clock.advance(1.0)  # each round written after the last
        calls = []
        for n, (session, case_id) in enumerate(zip(sessions, case_ids, strict=True)):
            if (round_ + n) % 2:
                record = rep.comment(case_id, f"{session.id} reply {round_}")
                event = COMMENT
            else:
                record = rep.email(case_id, f"{session.id} reply {round_}")
                event = EMAIL
            written[session.id].append(record)
            number = round_ * 20 + n
            if number in dropped:
                continue
            copies = 2 if number in duplicated else 1
            calls += [ring(world, node, event, case_id, record) for _ in range(copies)]
        rng.shuffle(calls)
        sent += len(calls)
        assert all(a.status == 202 for a in await asyncio.gather(*calls))
        await idle(world)

    # At most one read per webhook call that got through.
    assert world.queries() - queries <= sent == 90
    before_sweep = {s.id: len(await agent_messages(node, s.id)) for s in sessions}
    assert sum(before_sweep.values()) < 100  # the lost webhooks really lost replies

    report = await sweep(node.runtime)
    assert report.caught_up
    assert report.delivered > 0  # the sweep found what the lost webhooks missed

    for session in sessions:
        messages = await agent_messages(node, session.id)
        assert [m[2] for m in messages] == written[session.id], session.id
        assert [m[0] for m in messages] == [f"{session.id} reply {n}" for n in range(5)]
    status = node.runtime.reply_status
    assert status.deliveries == 100
    assert status.delivered_by_sweep == report.delivered


async def test_an_idle_sweep_is_cheap_and_a_restart_continues_from_the_stored_cursor(
    world: World,
) -> None:
    node = world.node
    session = await handed_off(node)
    case_id = await case_of(node, session.id)
    rep = Rep(world.org)
    world.emulator.state.clock.advance(1.0)
    first = rep.comment(case_id, "Lost webhook number one.")

    report = await sweep(node.runtime)
    assert report.delivered == 1
    assert report.api_calls == 2  # one composite of three discovery queries, one read
    assert report.records_seen >= 3
    status = node.runtime.reply_status
    assert status.last_sweep is report and status.to_json()["calls_per_sweep"] == 2

    idle_report = await sweep(node.runtime)
    assert idle_report.delivered == 0
    assert idle_report.api_calls == 1  # nothing new: the discovery composite only
    assert idle_report.cases_checked == 0

    # Restart: the cursor is in the store, so the new instance does not read the
    # day-long lookback again, and still finds what changed while it was down.
    assert await world.store.get(NS, STATE_KEY) is not None
    await world.stop_node(node)
    world.emulator.state.clock.advance(1.0)
    second = rep.comment(case_id, "Lost webhook number two.")
    restarted = await world.start_node()
    start_up = restarted.runtime.reply_status.last_sweep
    assert start_up is not None and start_up.delivered == 1 and start_up.cases_checked == 1
    assert [m[2] for m in await agent_messages(restarted, session.id)] == [first, second]


async def test_the_sweep_spends_no_more_than_its_budget_and_goes_on_next_time(
    world: World,
) -> None:
    node = world.node
    sessions = [await handed_off(node) for _ in range(6)]
    rep = Rep(world.org)
    world.emulator.state.clock.advance(1.0)
    for session in sessions:
        rep.comment(await case_of(node, session.id), f"Hello {session.id}")
    sweeper = node.runtime.sweeper
    sweeper.max_calls = 2

    partial = await sweep(node.runtime)
    assert partial.api_calls <= 2
    assert not partial.caught_up

    sweeper.max_calls = 50
    rest = await sweep(node.runtime)
    assert rest.caught_up
    await idle(world)
    for session in sessions:
        assert [m[0] for m in await agent_messages(node, session.id)] == [f"Hello {session.id}"]


async def test_only_one_instance_sweeps_at_a_time(world: World) -> None:
    second = await world.start_node()
    first = world.node
    await handed_off(first)  # an open Case: with none, a sweep reads nothing at all
    reports = await asyncio.gather(
        first.runtime.sweeper.run_once(), second.runtime.sweeper.run_once()
    )
    assert sorted(r is None for r in reports) == [False, True]
    skipped = first.runtime.reply_status.sweeps_skipped + second.runtime.reply_status.sweeps_skipped
    assert skipped >= 1


async def test_a_long_sweep_keeps_its_lock_and_a_dead_sweepers_lock_runs_out_soon(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The lock's ttl was 600 s and never renewed: a host killed while sweeping
    # blocked every sweep, its own start sweep included, for ten minutes. It is
    # short now, and renewed while a sweep runs (times scaled down here).
    monkeypatch.setattr(sweep_module, "SWEEP_LOCK_TTL", 0.3)
    monkeypatch.setattr(sweep_module, "SWEEP_LOCK_RENEW", 0.1)
    second = await world.start_node()
    first = world.node
    await handed_off(first)
    sweeper = first.runtime.sweeper
    real = sweeper._sweep

    async def slow_sweep() -> Any:
        await asyncio.sleep(1.0)  # past the ttl three times over
        return await real()

    monkeypatch.setattr(sweeper, "_sweep", slow_sweep)
    long = asyncio.ensure_future(sweeper.run_once())
    await asyncio.sleep(0.6)
    assert await second.runtime.sweeper.run_once() is None  # still held
    assert await long is not None

    # A holder that died mid-sweep: its lock stays only its ttl.
    await world.node.host.store.set(LOCKS_NS, sweep_module.LOCK_NAME, b"dead", ttl=0.3)
    assert await second.runtime.sweeper.run_once() is None
    await asyncio.sleep(0.4)
    assert await second.runtime.sweeper.run_once() is not None
