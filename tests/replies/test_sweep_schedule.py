"""What the reconciliation sweep costs a day at the default settings, and how soon a
reply whose webhook was lost still arrives (issue #18), on the plugin's own clock:
the sweep's background loop runs on a ManualClock and a whole day passes in
seconds. The emulator serves the sweep's reads over HTTP and counts them. And the
package's own retry of a refused callout, which covers the quiet case the sweep
bounds only by its quiet interval."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import aiohttp
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
    ring,
)

from opencx_salesforce.apex import contract
from opencx_salesforce.clock import ManualClock
from opencx_salesforce.devhost.waiting import wait_for
from opencx_salesforce.emulator.package import deploy_package
from opencx_salesforce.models import Role
from opencx_salesforce.settings import SalesforceSettings

COMMENT = contract.EVENT_CASE_COMMENT_CREATED
DAY = 86_400.0


def default(name: str) -> Any:
    return SalesforceSettings.model_fields[name].default


DEFAULTS: dict[str, Any] = {
    name: default(name)
    for name in ("sweep_interval_seconds", "sweep_healthy_interval_seconds", "sweep_hot_seconds")
}
# The sweep's loop alone sleeps on the clock (settled counts the sleepers): the
# retention pass's loop is tested in test_retention.py.
DEFAULTS["retention_days"] = 0


async def settled(node: Node, clock: ManualClock, *, loops: int = 1) -> None:
    """Until the sweep loop (``loops`` of them: one an instance on the clock)
    sleeps again (its pass, if one was due, is done)."""

    async def asleep() -> bool:
        return clock.sleepers() >= loops

    await wait_for(asleep, what="the sweep loop to sleep", every=0.001)


async def run_clock(node: Node, clock: ManualClock, seconds: float, *, loops: int = 1) -> None:
    """Let ``seconds`` of the plugin's time pass, waking the sweep loop each time it
    asked to be woken (``loops``: the instances sharing the clock)."""
    end = clock.monotonic() + seconds
    await settled(node, clock, loops=loops)
    while (wake := clock.next_wake()) is not None and clock.monotonic() + wake <= end:
        clock.advance(wake)
        await settled(node, clock, loops=loops)
    clock.advance(end - clock.monotonic())
    await settled(node, clock, loops=loops)


async def delivered_within(
    world: World, clock: ManualClock, session_id: str, record_id: str, bound: float
) -> float:
    """Run the clock until the reply is on the session; the clock time it took."""
    started = clock.time()
    while clock.time() - started <= bound + 1:
        if record_id in [m[2] for m in await agent_messages(world.node, session_id)]:
            return clock.time() - started
        await run_clock(world.node, clock, 1.0)
    raise AssertionError(f"reply {record_id} not delivered within {bound:.0f} s of clock time")


async def started(make_world: WorldFactory) -> tuple[World, ManualClock]:
    world = await make_world(**DEFAULTS)
    clock = ManualClock()
    await world.start_node(clock=clock)
    return world, clock


async def test_a_day_with_no_open_case_costs_no_call(make_world: WorldFactory) -> None:
    world, clock = await started(make_world)
    calls, sweeps = world.api_calls(), world.node.runtime.reply_status.sweeps
    await run_clock(world.node, clock, DAY)
    assert world.api_calls() == calls
    # The loop did run all day: it looked (in the store) and found no open Case.
    assert (
        world.node.runtime.reply_status.sweeps - sweeps
        >= DAY / DEFAULTS["sweep_interval_seconds"] * 0.9
    )


async def test_a_quiet_day_with_open_cases_and_healthy_webhooks_costs_under_300_calls(
    make_world: WorldFactory,
) -> None:
    world, clock = await started(make_world)
    node = world.node
    sessions = [await handed_off(node) for _ in range(3)]
    rep = Rep(world.org)
    for session in sessions:  # each reply's webhook arrives
        case_id = await case_of(node, session.id)
        await ring(world, node, COMMENT, case_id, rep.comment(case_id, "Looking into it."))
    await idle(world)
    # The conversations' hot spell, then a quiet day counted from its end.
    await run_clock(node, clock, DEFAULTS["sweep_hot_seconds"] + 60)
    calls = world.api_calls()
    await run_clock(node, clock, DAY)
    per_day = world.api_calls() - calls
    expected = DAY / DEFAULTS["sweep_healthy_interval_seconds"]  # 288: one call a sweep
    assert expected * 0.9 <= per_day <= 300
    assert node.runtime.reply_status.delivered_by_sweep == 0


async def test_a_lost_webhooks_reply_in_a_conversation_in_progress_arrives_within_a_minute(
    make_world: WorldFactory,
) -> None:
    world, clock = await started(make_world)
    node = world.node
    session = await handed_off(node)
    case_id = await case_of(node, session.id)
    rep = Rep(world.org)
    await run_clock(node, clock, 3 * 3600)  # hours of quiet: the sweep is rare now
    assert (
        await node.runtime.sweeper.schedule.next_interval()
        == (DEFAULTS["sweep_healthy_interval_seconds"])
    )

    # The contact writes again (appended to the Case): a conversation in progress.
    await node.host.post_message(session.id, Role.CONTACT, "Any news?")
    await idle(world)
    await run_clock(node, clock, 20)
    lost = rep.comment(case_id, "It left the depot this morning.")  # its webhook is lost
    took = await delivered_within(
        world, clock, session.id, lost, DEFAULTS["sweep_interval_seconds"]
    )
    assert took <= DEFAULTS["sweep_interval_seconds"]

    # A rep's reply whose webhook arrived keeps it hot: the next loss is found as soon.
    await run_clock(node, clock, 240)
    await ring(world, node, COMMENT, case_id, rep.comment(case_id, "Tracking: 1Z999."))
    await idle(world)
    await run_clock(node, clock, 200)
    lost = rep.comment(case_id, "Delivered at 3 pm.")
    took = await delivered_within(
        world, clock, session.id, lost, DEFAULTS["sweep_interval_seconds"]
    )
    assert took <= DEFAULTS["sweep_interval_seconds"]


async def test_a_lost_webhook_on_a_case_quiet_for_long_arrives_within_the_healthy_interval(
    make_world: WorldFactory,
) -> None:
    """The case the design does not bound by a minute: the first event after a
    quiet spell, its webhook lost. It still arrives, within the quiet interval;
    after it, the sweep is prompt again (a loss was seen)."""
    world, clock = await started(make_world)
    node = world.node
    session = await handed_off(node)
    case_id = await case_of(node, session.id)
    await run_clock(node, clock, 3 * 3600)
    lost = Rep(world.org).comment(case_id, "Sorry for the wait: refunded.")
    quiet = DEFAULTS["sweep_healthy_interval_seconds"] * 1.1  # its jitter's top
    took = await delivered_within(world, clock, session.id, lost, quiet)
    assert took <= quiet
    assert (
        await node.runtime.sweeper.schedule.next_interval() == (DEFAULTS["sweep_interval_seconds"])
    )


@dataclass
class Flaky:
    """In front of the host's webhook: answers 503 while ``down`` (a host
    restarting behind its load balancer), else passes the call on."""

    target: str
    http: aiohttp.ClientSession
    down: bool = True
    refused: int = 0

    async def handle(self, request: web.Request) -> web.Response:
        if self.down:
            self.refused += 1
            return web.Response(status=503, text="restarting")
        headers = {k: v for k, v in request.headers.items() if k.lower().startswith("x-")}
        headers["Content-Type"] = request.headers["Content-Type"]
        async with self.http.post(self.target, data=await request.read(), headers=headers) as got:
            return web.Response(status=got.status, body=await got.read())


async def test_a_reply_whose_callout_failed_on_a_quiet_case_comes_with_the_packages_retry(
    make_world: WorldFactory, aiohttp_server: Callable[..., Awaitable[Any]]
) -> None:
    """The quiet case the sweep bounds only by its quiet interval: when the webhook
    was lost because the host refused it, the package's own retry brings the reply
    a minute later (on the org's clock), with no sweep and no API call for it."""
    world, clock = await started(make_world)
    node = world.node
    session = await handed_off(node)
    case_id = await case_of(node, session.id)
    await run_clock(node, clock, 3 * 3600)  # quiet: the next sweep is minutes away
    flaky = Flaky(node.webhook_url, world.http)
    app = web.Application()
    app.router.add_post("/{tail:.*}", flaky.handle)
    server = await aiohttp_server(app)
    apex = deploy_package(world.org, str(server.make_url("/webhook")), SECRET)
    try:
        sweeps = node.runtime.reply_status.sweeps
        reply = Rep(world.org).comment(case_id, "Your refund is on its way.")
        await apex.drain()
        assert flaky.refused == 1 and apex.counters.retries == 1
        flaky.down = False  # the host is back
        world.emulator.state.clock.advance(60.0)  # the retry's delay, on the org's clock

        async def delivered() -> bool:
            return reply in [m[2] for m in await agent_messages(node, session.id)]

        await wait_for(delivered, what="the retried webhook's reply")
        assert node.runtime.reply_status.sweeps == sweeps  # the plugin's clock stood still
        assert node.runtime.reply_status.delivered_by_sweep == 0
    finally:
        await apex.close()


async def test_a_webhook_refused_during_a_quiet_wait_brings_the_sweep_forward(
    make_world: WorldFactory,
) -> None:
    # A package deployed with another secret: every call refused (401). The
    # schedule looked at refusals only after a sweep, so a quiet wait went on
    # (three minutes seen), and the reply with it.
    world, clock = await started(make_world)
    node = world.node
    await handed_off(node)
    await run_clock(node, clock, 3 * 3600)  # healthy and quiet: the long interval
    status = node.runtime.reply_status
    sweeps = status.sweeps
    while status.sweeps == sweeps:  # just after a sweep: the next is minutes away
        await run_clock(node, clock, 1.0)
    sweeps = status.sweeps
    status.webhooks_refused["signature"] = status.webhooks_refused.get("signature", 0) + 1
    await run_clock(node, clock, DEFAULTS["sweep_interval_seconds"] * 1.05)
    assert status.sweeps == sweeps + 1
