"""The reply path: a rep's public comment to the agent message on the session, and
what the reconciliation sweep costs at idle.

    python bench/bench_replies.py BASE_URL '{"latency_ms": 50, "replies": 20}'

The generated package is deployed in the org through the emulator's admin API
(its triggers and Queueable callouts are simulated by the emulator, with the
signing secret a real install uses). A reply is timed from the moment the rep's
comment is sent to the emulator until the host has the agent message on the
session: the trigger's webhook, the plugin's answer and debounce, its one query
with its own token, and ``host.deliver_agent_message``.

Three figures:

* single replies, one at a time, round-robin over a few Cases;
* a burst: several replies on one Case written back to back, which the plugin
  reads with one query (the notify job coalesces them);
* the sweep at idle: API calls per sweep when nothing changed;
* the sweep and the package's digest over a simulated day at the default
  settings, on the plugin's own clock and the org's (``sweep_day.py``): calls a
  day with no open Case and with quiet open Cases, and how soon a reply whose
  webhook was lost arrives.
"""

from __future__ import annotations

import asyncio
import json
import logging
import sys
import time
from dataclasses import asdict, dataclass, field
from typing import Any

import aiohttp
from contender_plugin import PluginHost, plugin_host
from emulator_process import BenchOrg, EmulatorControl
from handoff_workload import conversation, percentile
from sweep_day import measure_on_own_emulator as measure_sweep_day

from opencx_salesforce.devhost.waiting import wait_for
from opencx_salesforce.replies.service import NOTIFY_KIND
from opencx_salesforce.settings import SalesforceSettings

RESULT = "RESULT "
SIGNING_SECRET = "whsec_bench_0123456789abcdef"
DELIVERY_TIMEOUT = 30.0


@dataclass
class ReplyResult:
    latency_ms: float
    cases: int
    replies: int
    reply_latencies_ms: list[float]
    reply_api_calls: int
    burst_size: int
    burst_latency_ms: float  # first reply sent -> last one delivered
    burst_api_calls: int
    sweeps: int
    sweep_api_calls: list[int]  # per idle sweep
    sweep_interval_seconds: float  # the setting's default
    debounce_seconds: float
    webhooks: dict[str, Any] = field(default_factory=dict)
    sweep_day: dict[str, Any] = field(default_factory=dict)  # sweep_day.SweepDay, as JSON

    @property
    def calls_per_reply(self) -> float:
        return self.reply_api_calls / self.replies if self.replies else float("nan")

    @property
    def calls_per_idle_sweep(self) -> float:
        calls = self.sweep_api_calls
        return sum(calls) / len(calls) if calls else float("nan")

    def day(self, figure: str) -> float:
        """A figure of the simulated day (NaN when this run did not measure it)."""
        return float(self.sweep_day.get(figure, float("nan")))

    def p(self, q: float) -> float:
        return percentile(self.reply_latencies_ms, q)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ReplyResult:
        return cls(**data)


def default_sweep_interval() -> float:
    return float(SalesforceSettings.model_fields["sweep_interval_seconds"].default)


async def _reply_and_wait(
    control: EmulatorControl, org: BenchOrg, under_test: PluginHost, case_id: str, text: str
) -> float:
    started = time.perf_counter()
    record_id = await control.rep_reply(org, case_id, text)
    await asyncio.wait_for(under_test.watch.expect_delivery(record_id), DELIVERY_TIMEOUT)
    return (time.perf_counter() - started) * 1000


async def _notify_jobs_done(under_test: PluginHost) -> None:
    async def done() -> bool:
        return not await under_test.runtime.outbox.pending(f"{NOTIFY_KIND}:")

    await wait_for(done, what="the notify jobs to finish", every=0.005)


async def measure(
    control: EmulatorControl,
    org: BenchOrg,
    *,
    latency_ms: float,
    replies: int,
    cases: int = 5,
    burst: int = 5,
    sweeps: int = 5,
) -> ReplyResult:
    settings = {"webhook_signing_secret": SIGNING_SECRET}
    async with plugin_host(org, settings) as under_test:
        await control.deploy_package(org, under_test.runtime.webhook_url, SIGNING_SECRET)
        case_ids = []
        for n in range(cases + 1):
            session_id = await under_test.add_conversation(conversation(n, 5, run="r"))
            case_ids.append(await under_test.handoff(session_id))
        # Warm-up on the spare Case: the webhook route, the notify job, the query.
        await _reply_and_wait(control, org, under_test, case_ids.pop(), "warm-up")
        await control.set_latency(org, latency_ms)

        before = await control.total_api_calls(org)
        latencies = [
            await _reply_and_wait(
                control, org, under_test, case_ids[i % cases], f"Reply {i}: a replacement is sent."
            )
            for i in range(replies)
        ]
        reply_calls = await control.total_api_calls(org) - before

        before = await control.total_api_calls(org)
        started = time.perf_counter()
        record_ids = [
            await control.rep_reply(org, case_ids[0], f"Burst reply {i}.") for i in range(burst)
        ]
        waits = [under_test.watch.expect_delivery(r) for r in record_ids]
        await asyncio.wait_for(asyncio.gather(*waits), DELIVERY_TIMEOUT)
        burst_ms = (time.perf_counter() - started) * 1000
        # The read that notifications arriving during the first one queued runs
        # after the deliveries: it belongs to the burst, not to the sweep below.
        await _notify_jobs_done(under_test)
        burst_calls = await control.total_api_calls(org) - before

        # The sweep at idle: one to take in what just happened, then quiet ones.
        sweeper = under_test.runtime.sweeper
        await sweeper.run_once()
        sweep_calls = []
        for _ in range(sweeps):
            before = await control.total_api_calls(org)
            await sweeper.run_once()
            sweep_calls.append(await control.total_api_calls(org) - before)
        webhooks = await control.webhook_counters(org)
    return ReplyResult(
        latency_ms=latency_ms,
        cases=cases,
        replies=replies,
        reply_latencies_ms=latencies,
        reply_api_calls=reply_calls,
        burst_size=burst,
        burst_latency_ms=burst_ms,
        burst_api_calls=burst_calls,
        sweeps=sweeps,
        sweep_api_calls=sweep_calls,
        sweep_interval_seconds=default_sweep_interval(),
        # The first notification for a Case is read at once (leading edge): no debounce.
        debounce_seconds=0.0,
        webhooks=webhooks,
    )


async def run(base_url: str, latency_ms: float, replies: int) -> ReplyResult:
    async with aiohttp.ClientSession() as http:
        control = EmulatorControl(base_url, http)
        org = await control.new_org()
        try:
            result = await measure(control, org, latency_ms=latency_ms, replies=replies)
        finally:
            await control.drop_org(org)
    # The simulated day on an emulator of its own, no injected latency (time is
    # the plugin's clock there, not the wall's; it moves the emulator's clock).
    result.sweep_day = (await measure_sweep_day()).to_json()
    return result


def main(argv: list[str]) -> int:
    base_url, raw = argv
    options = json.loads(raw)
    logging.basicConfig(level=logging.ERROR)
    result = asyncio.run(run(base_url, float(options["latency_ms"]), int(options["replies"])))
    print(RESULT + json.dumps(result.to_json()), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
