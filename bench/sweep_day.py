"""The reconciliation sweep over a simulated day, at the default settings.

The plugin runs on a :class:`~opencx_salesforce.clock.ManualClock`: its sweep
loop sleeps on that clock, so a day of it passes in seconds while every sweep
still reads the emulator over HTTP and the emulator counts the calls. Four
figures (issue #18):

* calls a day with no open Case;
* calls a day with open Cases and healthy webhooks, nothing happening;
* clock seconds until a reply whose webhook was lost arrives, in a conversation
  in progress (the contact wrote a little before);
* the same on a Case quiet for hours (the case the design bounds by the quiet
  interval, not by a minute).

The webhook is lost with the emulator's ``drop_rate`` knob: the package's
doorbell is never sent.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from contender_plugin import PluginHost, plugin_host
from emulator_process import BenchOrg, EmulatorControl
from handoff_workload import conversation

from opencx_salesforce.clock import ManualClock
from opencx_salesforce.devhost.waiting import wait_for
from opencx_salesforce.models import Role
from opencx_salesforce.settings import SalesforceSettings

DAY = 86_400.0
SWEEP_SETTINGS = ("sweep_interval_seconds", "sweep_healthy_interval_seconds", "sweep_hot_seconds")


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


async def _lost_reply(
    control: EmulatorControl,
    org: BenchOrg,
    under_test: PluginHost,
    clock: ManualClock,
    session_id: str,
    case_id: str,
) -> float:
    """A rep's reply whose doorbell is never sent: clock seconds until delivered."""
    await control.set_webhook_faults(org, {"drop_rate": 1.0})
    record_id = await control.rep_reply(org, case_id, "A reply whose webhook was lost.")
    await control.set_webhook_faults(org, {"drop_rate": 0.0})
    started = clock.time()
    while not await _has(under_test, session_id, record_id):
        if clock.time() - started > DAY:
            raise RuntimeError("a lost webhook's reply did not arrive within a day")
        await run_clock(clock, 1.0)
    return clock.time() - started


async def measure(control: EmulatorControl, org: BenchOrg, secret: str) -> SweepDay:
    settings = defaults()
    clock = ManualClock()
    async with plugin_host(org, {**settings, "webhook_signing_secret": secret}, clock=clock) as (
        under_test
    ):
        await control.deploy_package(org, under_test.runtime.webhook_url, secret)
        before = await control.total_api_calls(org)
        await run_clock(clock, DAY)
        no_open = await control.total_api_calls(org) - before

        sessions = [
            await under_test.add_conversation(conversation(n, 5, run="d")) for n in range(3)
        ]
        case_ids = [await under_test.handoff(s) for s in sessions]
        for case_id in case_ids:  # replies whose webhook arrives
            record_id = await control.rep_reply(org, case_id, "Looking into it.")
            await under_test.watch.expect_delivery(record_id)
        await run_clock(clock, settings["sweep_hot_seconds"] + 60)  # the hot spell ends
        before = await control.total_api_calls(org)
        await run_clock(clock, DAY)
        quiet = await control.total_api_calls(org) - before

        await run_clock(clock, 3 * 3600)
        # The contact writes again (a conversation in progress), then the rep answers.
        await under_test.host.post_message(sessions[0], Role.CONTACT, "Any news?")
        await run_clock(clock, 20)
        in_conversation = await _lost_reply(
            control, org, under_test, clock, sessions[0], case_ids[0]
        )
        await run_clock(clock, 3 * 3600)
        after_quiet = await _lost_reply(control, org, under_test, clock, sessions[1], case_ids[1])
    return SweepDay(
        no_open_case_calls_per_day=no_open,
        quiet_open_cases_calls_per_day=quiet,
        lost_reply_in_conversation_seconds=in_conversation,
        lost_reply_after_quiet_seconds=after_quiet,
        settings=settings,
    )
