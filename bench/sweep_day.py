"""The reconciliation sweep and the package's digest over a simulated day, at the
default settings.

The plugin runs on a :class:`~opencx_salesforce.clock.ManualClock`: its sweep
loop sleeps on that clock, so a day of it passes in seconds while every sweep
still reads the emulator over HTTP and the emulator counts the calls. The
emulator runs the generated package, digest started as the README says: each
simulated minute the org's clock moves a minute too and the digest, due, runs
and calls the host's webhook over HTTP. Four figures (issue #18):

* calls a day with no open Case;
* calls a day with open Cases and healthy webhooks, nothing happening;
* clock seconds until a reply whose webhook was lost arrives, in a conversation
  in progress (the contact wrote a little before);
* the same on a Case quiet for hours (the case the sweep alone bounds by its
  quiet interval; the digest, by its minute).

The webhook is lost with the emulator's ``drop_rate`` knob: the package's
doorbell is never sent (the digest is not a doorbell: it still runs).

The org's clock runs ahead of the wall clock here (days pass in seconds), so the
plugin's webhook timestamp window is widened to match: a bench knob, not a
recommendation.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from dataclasses import asdict, dataclass
from typing import Any

import aiohttp
from contender_plugin import PluginHost, plugin_host
from emulator_process import BenchOrg, EmulatorControl, EmulatorProcess
from handoff_workload import conversation

from opencx_salesforce.clock import ManualClock
from opencx_salesforce.devhost.waiting import WaitTimedOut, wait_for
from opencx_salesforce.models import Role
from opencx_salesforce.settings import SalesforceSettings

DAY = 86_400.0
SECRET = "whsec_bench_sweep_day_0123456789"
SWEEP_SETTINGS = (
    "sweep_interval_seconds",
    "sweep_healthy_interval_seconds",
    "sweep_hot_seconds",
    "sweep_digest_interval_seconds",
    "digest_overdue_seconds",
)
# The org's clock runs up to a few days ahead of the wall clock in this bench.
CLOCK_SKEW_TOLERANCE = {"webhook_timestamp_tolerance_seconds": 4 * DAY}


def defaults() -> dict[str, float]:
    fields = SalesforceSettings.model_fields
    return {name: float(fields[name].default) for name in SWEEP_SETTINGS}


@dataclass
class SweepDay:
    no_open_case_calls_per_day: int
    quiet_open_cases_calls_per_day: int
    lost_reply_in_conversation_seconds: float  # on the plugin's clock
    lost_reply_after_quiet_seconds: float
    settings: dict[str, float]

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


async def _settled(clock: ManualClock) -> None:
    async def asleep() -> bool:
        return clock.sleepers() > 0

    await wait_for(asleep, what="the sweep loop to sleep", every=0.001, timeout=60)


async def run_clock(clock: ManualClock, seconds: float) -> None:
    """``seconds`` of the plugin's time, the sweep loop woken each time it asked."""
    end = clock.monotonic() + seconds
    await _settled(clock)
    while (wake := clock.next_wake()) is not None and clock.monotonic() + wake <= end:
        clock.advance(wake)
        await _settled(clock)
    clock.advance(end - clock.monotonic())
    await _settled(clock)


async def _has(under_test: PluginHost, session_id: str, record_id: str) -> bool:
    session = await under_test.host.get_session(session_id)
    return session is not None and any(m.external_id == record_id for m in session.messages)


@dataclass
class Clocks:
    """The plugin's ManualClock and the org's clock, moved together; the org's
    digest runs when its minute comes."""

    control: EmulatorControl
    org: BenchOrg
    plugin: ManualClock

    async def run(self, seconds: float, step: float = 60.0) -> bool:
        """Whether a digest ran meanwhile."""
        left, ran = seconds, False
        while left > 0:
            moved = min(step, left)
            await self.control.advance_clock(moved)
            ran = bool((await self.control.digest(self.org, "run_due"))["ran"]) or ran
            await run_clock(self.plugin, moved)
            left -= moved
        return ran


async def _lost_reply(
    control: EmulatorControl,
    org: BenchOrg,
    under_test: PluginHost,
    clocks: Clocks,
    session_id: str,
    case_id: str,
) -> float:
    """A rep's reply whose doorbell is never sent: clock seconds until delivered."""
    await control.set_webhook_faults(org, {"drop_rate": 1.0})
    record_id = await control.rep_reply(org, case_id, "A reply whose webhook was lost.")
    await control.set_webhook_faults(org, {"drop_rate": 0.0})
    started = clocks.plugin.time()

    async def arrived() -> bool:
        return await _has(under_test, session_id, record_id)

    while not await arrived():
        if clocks.plugin.time() - started > DAY:
            raise RuntimeError("a lost webhook's reply did not arrive within a day")
        if await clocks.run(1.0):
            # The digest rang the host: its read takes a round trip of real time,
            # not a second of the clock.
            with contextlib.suppress(WaitTimedOut):
                await wait_for(arrived, what="the digest's read", timeout=2.0)
    return clocks.plugin.time() - started


async def measure(control: EmulatorControl, org: BenchOrg, secret: str) -> SweepDay:
    settings = defaults()
    clock = ManualClock()
    plugin_settings = {**settings, **CLOCK_SKEW_TOLERANCE, "webhook_signing_secret": secret}
    async with plugin_host(org, plugin_settings, clock=clock) as under_test:
        await control.deploy_package(org, under_test.runtime.webhook_url, secret)
        await control.digest(org, "start")  # scripts/apex/start-digest.apex
        clocks = Clocks(control, org, clock)
        before = await control.total_api_calls(org)
        await clocks.run(DAY)
        no_open = await control.total_api_calls(org) - before

        sessions = [
            await under_test.add_conversation(conversation(n, 5, run="d")) for n in range(3)
        ]
        case_ids = [await under_test.handoff(s) for s in sessions]
        for case_id in case_ids:  # replies whose webhook arrives
            record_id = await control.rep_reply(org, case_id, "Looking into it.")
            await under_test.watch.expect_delivery(record_id)
        await clocks.run(settings["sweep_hot_seconds"] + 60)  # the hot spell ends
        before = await control.total_api_calls(org)
        await clocks.run(DAY)
        quiet = await control.total_api_calls(org) - before

        await clocks.run(3 * 3600)
        # The contact writes again (a conversation in progress), then the rep answers.
        await under_test.host.post_message(sessions[0], Role.CONTACT, "Any news?")
        await clocks.run(20, step=1.0)
        in_conversation = await _lost_reply(
            control, org, under_test, clocks, sessions[0], case_ids[0]
        )
        await clocks.run(3 * 3600)
        after_quiet = await _lost_reply(control, org, under_test, clocks, sessions[1], case_ids[1])
        await control.digest(org, "stop")
    return SweepDay(
        no_open_case_calls_per_day=no_open,
        quiet_open_cases_calls_per_day=quiet,
        lost_reply_in_conversation_seconds=in_conversation,
        lost_reply_after_quiet_seconds=after_quiet,
        settings=settings,
    )


async def measure_on_own_emulator() -> SweepDay:
    """The day on an emulator process of its own: it moves the emulator's clock
    days ahead (one clock for every org of the process), which would leave any
    measurement after it on the same process a day off (webhook timestamps
    refused, tokens aged)."""
    async with aiohttp.ClientSession() as http:
        with EmulatorProcess() as emulator:
            control = EmulatorControl(emulator.base_url, http)
            org = await control.new_org()
            try:
                return await measure(control, org, SECRET)
            finally:
                await control.drop_org(org)


if __name__ == "__main__":
    # On its own: `cd bench && ../.venv/bin/python sweep_day.py` (run_all.py runs it
    # inside bench_replies.py).
    logging.basicConfig(level=logging.ERROR)
    print(json.dumps(asyncio.run(measure_on_own_emulator()).to_json(), indent=2))
