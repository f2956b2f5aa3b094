"""Appends under load: contacts who write again while their Case is open.

    python bench/bench_appends.py BASE_URL '{"latency_ms": 50, "concurrency": 100}'

``concurrency`` conversations are handed off first (not timed). Then each of them
has a contact who writes, waits until the plugin has put the words on the Case,
and writes again, for ``budget_seconds``: a closed loop, as the handoff cells
run. An append is timed from the host's ``post_message`` (which calls
``on_contact_reengage``) until the plugin's append job for it is done (the
comment is on the Case and the job acknowledged). The API calls are counted by
the emulator process for the org, so they include every read and write.
"""

from __future__ import annotations

import asyncio
import json
import logging
import sys
import time
from dataclasses import asdict, dataclass
from typing import Any

import aiohttp
from contender_plugin import plugin_host
from emulator_process import EmulatorControl
from handoff_workload import conversation, percentile

from opencx_salesforce.models import Role

RESULT = "RESULT "


@dataclass
class AppendResult:
    latency_ms: float
    concurrency: int
    store: str
    appends: int
    seconds: float
    api_calls: int
    latencies_ms: list[float]
    errors: int

    @property
    def per_second(self) -> float:
        return self.appends / self.seconds if self.seconds else 0.0

    @property
    def calls_per_append(self) -> float:
        return self.api_calls / self.appends if self.appends else float("nan")

    def p(self, q: float) -> float:
        return percentile(self.latencies_ms, q)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> AppendResult:
        return cls(**data)


async def measure(
    base_url: str, *, latency_ms: float, concurrency: int, budget_seconds: float, store: str
) -> AppendResult:
    async with aiohttp.ClientSession() as http:
        control = EmulatorControl(base_url, http)
        org = await control.new_org()
        try:
            async with plugin_host(org, store_kind=store) as under_test:
                session_ids = [
                    await under_test.add_conversation(conversation(n, 4, run="a"))
                    for n in range(concurrency)
                ]
                await asyncio.gather(*(under_test.handoff(s) for s in session_ids))
                cases = under_test.runtime.cases
                done: dict[str, asyncio.Future[None]] = {}
                handle_append = cases.handle_append

                async def heard(job: Any) -> Any:
                    outcome = await handle_append(job)
                    future = done.pop(job.payload["session_id"], None)
                    if future is not None and not future.done():
                        future.set_result(None)
                    return outcome

                cases.handle_append = heard  # type: ignore[method-assign]
                host = under_test.host
                latencies: list[float] = []
                errors = 0
                stop_at = 0.0

                async def contact(session_id: str) -> None:
                    nonlocal errors
                    turn = 0
                    while time.perf_counter() < stop_at:
                        turn += 1
                        started = time.perf_counter()
                        future = asyncio.get_running_loop().create_future()
                        done[session_id] = future
                        try:
                            await host.post_message(
                                session_id, Role.CONTACT, f"Any news? This is message {turn}."
                            )
                            await asyncio.wait_for(future, 30)
                        except Exception:
                            errors += 1
                            continue
                        latencies.append((time.perf_counter() - started) * 1000)

                # Warm-up: one append alone (the append path's first call, caches).
                stop_at = time.perf_counter() + 0.001
                await contact(session_ids[0])
                latencies.clear()
                await control.set_latency(org, latency_ms)
                before = await control.total_api_calls(org)
                started = time.perf_counter()
                stop_at = started + budget_seconds
                await asyncio.gather(*(contact(s) for s in session_ids))
                seconds = time.perf_counter() - started
                calls = await control.total_api_calls(org) - before
        finally:
            await control.drop_org(org)
    return AppendResult(
        latency_ms=latency_ms,
        concurrency=concurrency,
        store=store,
        appends=len(latencies),
        seconds=seconds,
        api_calls=calls,
        latencies_ms=latencies,
        errors=errors,
    )


def main(argv: list[str]) -> int:
    base_url, raw = argv
    options = json.loads(raw)
    logging.basicConfig(level=logging.ERROR)
    result = asyncio.run(
        measure(
            base_url,
            latency_ms=float(options.get("latency_ms", 50)),
            concurrency=int(options.get("concurrency", 100)),
            budget_seconds=float(options.get("budget_seconds", 5)),
            store=str(options.get("store", "sqlite")),
        )
    )
    summary = {
        "appends_per_second": round(result.per_second, 1),
        "calls_per_append": round(result.calls_per_append, 3),
        "p50_ms": round(result.p(0.5), 1),
        "p90_ms": round(result.p(0.9), 1),
    }
    print(json.dumps(summary), file=sys.stderr)
    print(RESULT + json.dumps(result.to_json()), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
