"""The package's digest, end to end (issue #18): the emulator runs the generated
package's digest on the org's clock and calls the host's webhook over HTTP; the
plugin runs on a ManualClock; the test moves both a minute at a time.

* a reply on a Case quiet for hours whose doorbell is never sent arrives with the
  next digest, within a minute, with one read and no sweep;
* a quiet day with open Cases costs the sweep's rare passes only (well under 300
  calls), a day with no open Case none;
* a digest repeating a reply a doorbell's read already delivered costs no call;
* a malformed digest is refused, naming the problem, and loses nothing;
* digests that stop coming make the sweep prompt once, then quiet as without them.

The org's clock runs ahead of the wall clock here (hours pass in seconds), so the
webhook's timestamp window is widened to days for these tests.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from replies_support import (
    SECRET,
    Node,
    Rep,
    World,
    WorldFactory,
    agent_messages,
    case_of,
    handed_off,
    idle,
    post,
    ring,
)
from test_sweep_schedule import DAY, DEFAULTS, run_clock

from opencx_salesforce.apex import contract, digest_contract, names
from opencx_salesforce.clock import ManualClock
from opencx_salesforce.emulator.package import ApexRuntime, deploy_package

COMMENT = contract.EVENT_CASE_COMMENT_CREATED
DIGEST_INTERVAL = 1800.0  # sweep_digest_interval_seconds' default
SETTINGS = {**DEFAULTS, "webhook_timestamp_tolerance_seconds": 3 * DAY}


Digested = tuple[World, ManualClock, ApexRuntime]


@pytest.fixture
async def digested(make_world: WorldFactory) -> AsyncIterator[Digested]:
    """A host on a ManualClock, the package deployed to its webhook, the digest
    started by anonymous Apex (as the README's start-digest.apex does)."""
    world = await make_world(**SETTINGS)
    clock = ManualClock()
    node = await world.start_node(clock=clock)
    apex = deploy_package(world.org, node.webhook_url, SECRET)
    result = await apex.execute_anonymous(f"{names.DIGEST_CLASS}.start();")
    assert result["success"] is True, result
    try:
        yield world, clock, apex
    finally:
        await apex.close()


async def minutes(world: World, clock: ManualClock, apex: ApexRuntime, count: int) -> None:
    """``count`` minutes on both clocks; the org's digest runs each minute."""
    for _ in range(count):
        await step(world, clock, apex, 60.0)


async def step(world: World, clock: ManualClock, apex: ApexRuntime, seconds: float) -> None:
    world.emulator.state.clock.advance(seconds)
    await apex.digest.run_due()
    await idle(world)
    await run_clock(world.node, clock, seconds)


async def delivered_within(
    world: World, clock: ManualClock, apex: ApexRuntime, session_id: str, reply: str
) -> float:
    started = clock.time()
    while clock.time() - started <= 61:
        if reply in [m[2] for m in await agent_messages(world.node, session_id)]:
            return clock.time() - started
        await step(world, clock, apex, 1.0)
    raise AssertionError(f"reply {reply} not delivered within a minute")


async def test_a_lost_doorbells_reply_on_a_case_quiet_for_hours_arrives_within_a_minute(
    digested: Digested,
) -> None:
    world, clock, apex = digested
    node = world.node
    session = await handed_off(node)
    case_id = await case_of(node, session.id)
    await minutes(world, clock, apex, 3 * 60)  # hours of quiet
    schedule = node.runtime.sweeper.schedule
    assert await schedule.next_interval() == DIGEST_INTERVAL, "digests on time: rare sweeps"
    # The reply comes just after the half-hourly sweep has run, so that its
    # next turn (half an hour on, give or take its jitter) cannot bring it
    # first: the minute measured is the digest's alone.
    swept = node.runtime.reply_status.sweeps
    for _ in range(int(DIGEST_INTERVAL / 60) * 2):
        if node.runtime.reply_status.sweeps > swept:
            break
        await minutes(world, clock, apex, 1)
    assert node.runtime.reply_status.sweeps > swept, "the rare sweep never came"

    apex.faults.drop_rate = 1.0  # the reply's doorbell is never sent
    calls, sweeps = world.api_calls(), node.runtime.reply_status.sweeps
    reply = Rep(world.org).comment(case_id, "Sorry for the wait: refunded.")
    await apex.drain()
    assert apex.counters.dropped == 1
    took = await delivered_within(world, clock, apex, session.id, reply)
    assert took <= DEFAULTS["sweep_interval_seconds"]
    status = node.runtime.reply_status
    assert status.delivered_by_sweep == 0, "the digest brought it, not the sweep"
    # One read of the Case, and no sweep meanwhile (its turn is half an hour on).
    assert world.api_calls() - calls == 1
    assert status.sweeps == sweeps
    assert status.digest_changes_unread == 1


async def test_a_quiet_day_with_open_cases_costs_the_rare_sweeps_only(digested: Digested) -> None:
    world, clock, apex = digested
    node = world.node
    sessions = [await handed_off(node) for _ in range(3)]
    rep = Rep(world.org)
    for session in sessions:  # each reply's doorbell arrives
        case_id = await case_of(node, session.id)
        await ring(world, node, COMMENT, case_id, rep.comment(case_id, "Looking into it."))
    await idle(world)
    await minutes(world, clock, apex, 15)  # the start's prompt sweeps
    calls = world.api_calls()
    await minutes(world, clock, apex, int(DAY / 60))
    per_day = world.api_calls() - calls
    assert per_day <= (DAY / DIGEST_INTERVAL) * 1.15  # 48, the sweep's jitter aside
    assert per_day <= 300
    assert apex.digest.counters.runs >= DAY / 60
    assert node.runtime.reply_status.delivered_by_sweep == 0
    assert node.runtime.reply_status.digest_changes_unread == 0


async def test_a_day_of_digests_with_no_open_case_costs_no_call(digested: Digested) -> None:
    world, clock, apex = digested
    calls = world.api_calls()
    await minutes(world, clock, apex, int(DAY / 60))
    assert world.api_calls() == calls
    assert world.node.runtime.reply_status.digests >= DAY / 60


async def test_a_digest_repeating_a_reply_already_read_costs_no_call(digested: Digested) -> None:
    world, clock, apex = digested
    node = world.node
    session = await handed_off(node)
    case_id = await case_of(node, session.id)
    await minutes(world, clock, apex, 10)
    calls = world.api_calls()
    reply = Rep(world.org).comment(case_id, "Shipped today.")  # its doorbell rings
    await apex.drain()
    await idle(world)
    assert reply in [m[2] for m in await agent_messages(node, session.id)]
    assert world.api_calls() - calls == 1  # the doorbell's read
    await minutes(world, clock, apex, 5)  # five digests list the reply
    listed = [r for r in apex.log if r.event == digest_contract.EVENT_DIGEST]
    assert len(listed) >= 5
    assert world.api_calls() - calls == 1, "the digests cost nothing more"
    assert node.runtime.reply_status.digest_changes_unread == 0


def digest_body(world: World, changes: list[dict[str, Any]], **overrides: Any) -> bytes:
    now = datetime.now(UTC)
    body: dict[str, Any] = {
        "event": "digest",
        "orgId": world.org.id,
        "since": now.strftime("%Y-%m-%dT%H:%M:%S.000Z"),
        "until": now.strftime("%Y-%m-%dT%H:%M:%S.000Z"),
        "truncated": False,
        "changes": changes,
    }
    body.update(overrides)
    return json.dumps(body, separators=(",", ":")).encode()


async def test_a_malformed_digest_is_refused_naming_the_problem_and_loses_nothing(
    world: World,
) -> None:
    node: Node = world.node
    session = await handed_off(node)
    case_id = await case_of(node, session.id)
    await idle(world)
    reply = Rep(world.org).comment(case_id, "Your refund is on its way.")  # no doorbell
    stored = world.org.stored("CaseComment", reply)
    assert stored is not None
    stamp = stored["SystemModstamp"].replace("+0000", "Z")
    change = {"caseId": case_id, "recordId": reply, "stamp": stamp}

    cases = {
        "changes[0].stamp: expected UTC with milliseconds": [{**change, "stamp": "yesterday"}],
        "changes[0].recordId: expected an Id starting with": [
            {**change, "recordId": "001xx000003DGb2AAG"}
        ],
        "changes[0]: unknown field(s): body": [{**change, "body": "I am a rep"}],
    }
    for reason, changes in cases.items():
        answer = await post(world.http, node.webhook_url, digest_body(world, changes))
        assert answer.status == 400, answer.body
        assert reason in answer.body["error"], answer.body
    answer = await post(world.http, node.webhook_url, digest_body(world, [], truncated="no"))
    assert answer.status == 400 and "truncated" in answer.body["error"]
    assert node.runtime.reply_status.webhooks_refused["400 malformed"] == 4
    assert reply not in [m[2] for m in await agent_messages(node, session.id)]

    answer = await post(world.http, node.webhook_url, digest_body(world, [change]))
    assert answer.status == 202 and answer.body == {"accepted": True, "event": "digest", "rung": 1}
    await idle(world)
    assert reply in [m[2] for m in await agent_messages(node, session.id)]
    # Unsigned, it is refused like a doorbell.
    unsigned = await post(world.http, node.webhook_url, digest_body(world, []), secret=None)
    assert unsigned.status == 401


async def settled_with_an_open_case(digested: Digested) -> None:
    """A handoff, then a quarter of an hour: the start's prompt sweeps are past."""
    world, clock, apex = digested
    session = await handed_off(world.node)
    await case_of(world.node, session.id)
    await minutes(world, clock, apex, 15)


async def test_digests_that_stop_make_the_sweep_prompt_once_then_quiet(digested: Digested) -> None:
    world, clock, apex = digested
    node = world.node
    status = node.runtime.reply_status
    await settled_with_an_open_case(digested)
    before = status.sweeps
    await minutes(world, clock, apex, 25)
    assert status.sweeps - before <= 1, "digests on time: the sweep is rare"

    assert (await apex.execute_anonymous(f"{names.DIGEST_CLASS}.stop();"))["success"]
    before = status.sweeps
    await minutes(world, clock, apex, 5)  # overdue after 3 minutes
    assert status.sweeps - before >= 1, "a missing digest counts as a lost webhook"
    before = status.sweeps
    await minutes(world, clock, apex, 20)
    # Nothing was missed: the quiet interval (300 s), not a sweep a minute.
    assert 2 <= status.sweeps - before <= 5


@dataclass
class SlowDoorbells:
    """In front of the host's webhook: digests pass at once, doorbells wait until
    ``open`` is set (a Queueable queue running late)."""

    target: str
    http: aiohttp.ClientSession
    open: asyncio.Event = field(default_factory=asyncio.Event)

    async def handle(self, request: web.Request) -> web.Response:
        body = await request.read()
        if not digest_contract.is_digest(json.loads(body)):
            await self.open.wait()
        headers = {k: v for k, v in request.headers.items() if k.lower().startswith("x-")}
        headers["Content-Type"] = request.headers["Content-Type"]
        async with self.http.post(self.target, data=body, headers=headers) as got:
            return web.Response(status=got.status, body=await got.read())


async def test_a_doorbell_after_the_digest_delivered_its_reply_costs_no_read(
    make_world: WorldFactory, aiohttp_server: Callable[..., Awaitable[Any]]
) -> None:
    """The digest and a doorbell cross: the doorbell comes late, the digest lists
    the reply first and its read delivers it; the doorbell then costs nothing."""
    world = await make_world(**SETTINGS)
    clock = ManualClock()
    node = await world.start_node(clock=clock)
    slow = SlowDoorbells(node.webhook_url, world.http)
    app = web.Application()
    app.router.add_post("/{tail:.*}", slow.handle)
    server = await aiohttp_server(app)
    apex = deploy_package(world.org, str(server.make_url("/webhook")), SECRET)
    assert (await apex.execute_anonymous(f"{names.DIGEST_CLASS}.start();"))["success"]
    try:
        session = await handed_off(node)
        case_id = await case_of(node, session.id)
        slow.open.set()
        await minutes(world, clock, apex, 10)
        slow.open.clear()
        calls = world.api_calls()
        reply = Rep(world.org).comment(case_id, "On its way.")
        await step(world, clock, apex, 60.0)  # the digest runs; the doorbell waits
        assert reply in [m[2] for m in await agent_messages(node, session.id)]
        assert world.api_calls() - calls == 1  # the digest's read
        slow.open.set()  # now the doorbell arrives
        await apex.drain()
        await idle(world)
        assert world.api_calls() - calls == 1, "the late doorbell read nothing"
        skipped = node.runtime.reply_status.skipped_records
        assert skipped["doorbell for a delivered reply"] == 1
    finally:
        await apex.close()


async def test_a_truncated_digest_brings_a_sweep_within_a_minute(digested: Digested) -> None:
    world, clock, apex = digested
    node = world.node
    status = node.runtime.reply_status
    await settled_with_an_open_case(digested)
    before = status.sweeps
    # More changes than one digest lists (as the org says it with truncated).
    answer = await post(world.http, node.webhook_url, digest_body(world, [], truncated=True))
    assert answer.status == 202
    await minutes(world, clock, apex, 2)
    assert status.sweeps - before >= 1, "the sweep reads what the digest could not list"
