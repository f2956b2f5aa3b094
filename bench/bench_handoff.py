"""Handoff benchmark: API calls per handoff, handoff-to-Case latency and
sustained handoffs/s, against the local emulator with injected round-trip latency.

    .venv/bin/python bench/bench_handoff.py            # prints a Markdown table
    .venv/bin/python bench/bench_handoff.py --quick    # a smaller run
    .venv/bin/python bench/bench_handoff.py --store postgres   # on another store

``--store`` (memory, sqlite, redis or postgres; several: ``--store sqlite,postgres``)
picks the store under the host (see ``store_choice.py``); the table then also
gives the store's own cost per handoff: protocol calls, and for PostgreSQL the
statements (round trips) it sent to the database.

The plugin runs inside the reference host exactly as in production: the host calls
``on_handoff``, the outbox worker does the Salesforce work, the emulator counts the
API calls. Latency is measured from the host's handoff call to the moment the
session carries its ``salesforce_case_id`` (what the host sees).

Everything, the emulator included, runs in this one process: quick to start, but
the emulator's CPU is charged to the plugin. ``run_all.py`` measures the same
against the baselines with the emulator in its own process.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from contender_plugin import QUIET_SWEEP, Watch, watch_host
from store_choice import STORES, open_bench_store

from opencx_salesforce.devhost.stack import Stack, start_stack
from opencx_salesforce.models import Contact, HandoffReason, Role


@dataclass
class Result:
    latency_ms: float
    messages: int
    concurrency: int
    handoffs: int
    calls_per_handoff: float
    p50: float
    p95: float
    p99: float
    per_second: float
    store: str = "memory"
    store_calls_per_handoff: float = 0.0
    round_trips_per_handoff: float | None = None  # where the store counts them
    store_calls_by_operation: dict[str, float] | None = None  # per handoff


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))
    return ordered[index]


async def conversation(stack: Stack, n: int, messages: int) -> str:
    host = stack.host
    session = await host.create_session(
        topic=f"Order {n} missing",
        summary="The customer's parcel did not arrive.",
        contact=Contact(name=f"Customer {n}", email=f"bench{n}@example.com"),
    )
    for m in range(messages):
        role = Role.CONTACT if m % 2 == 0 else Role.BOT
        await host.post_message(session.id, role, f"message {m} of conversation {n} " * 3)
    return session.id


async def timed_handoff(
    stack: Stack, watch: Watch, session_id: str, latencies: list[float]
) -> None:
    # The host's own write of the Case Id resolves the future: no polling loop
    # competing with the plugin for the CPU.
    case_id = watch.expect_case(session_id)
    started = time.perf_counter()
    await stack.host.handoff(session_id, HandoffReason())
    await case_id
    latencies.append((time.perf_counter() - started) * 1000)


async def run(
    latency_ms: float, messages: int, concurrency: int, handoffs: int, store: str = "memory"
) -> Result:
    opened = await open_bench_store(store)
    # The sweep's own queries are not handoffs: it runs on its own timer.
    # StoreCount forwards the whole protocol (its methods are set per instance).
    stack = await start_stack(store=opened.store, plugin_settings=QUIET_SWEEP)
    watch = watch_host(stack.host)
    try:
        # Conversations are made first: only the handoffs are timed.
        sessions = [await conversation(stack, n, messages) for n in range(handoffs + 1)]
        await timed_handoff(stack, watch, sessions.pop(), [])  # warm-up, not counted
        stack.org.faults.latency_ms = latency_ms
        before = sum(stack.org.api_calls.by_endpoint.values())
        store_before, trips_before = opened.snapshot()
        by_operation_before = opened.counted().calls.copy()
        latencies: list[float] = []
        queue = iter(sessions)
        started = time.perf_counter()

        async def client() -> None:
            for session_id in queue:
                await timed_handoff(stack, watch, session_id, latencies)

        await asyncio.gather(*[client() for _ in range(concurrency)])
        elapsed = time.perf_counter() - started
        calls = sum(stack.org.api_calls.by_endpoint.values()) - before
        store_after, trips_after = opened.snapshot()
        trips = None
        if trips_after is not None and trips_before is not None:
            trips = (trips_after - trips_before) / handoffs
        return Result(
            latency_ms,
            messages,
            concurrency,
            handoffs,
            calls / handoffs,
            statistics.median(latencies),
            percentile(latencies, 0.95),
            percentile(latencies, 0.99),
            handoffs / elapsed,
            store,
            (store_after - store_before) / handoffs,
            trips,
            {
                name: count / handoffs
                for name, count in sorted((opened.counted().calls - by_operation_before).items())
            },
        )
    finally:
        await stack.close()
        await opened.store.close()
        await opened.cleanup()


def table(results: list[Result]) -> str:
    lines = [
        "| injected RTT | messages | concurrent | handoffs | API calls/handoff "
        "| p50 ms | p95 ms | p99 ms | p50 / RTT | handoffs/s | store "
        "| store calls/handoff | DB round trips/handoff |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in results:
        ratio = f"{r.p50 / r.latency_ms:.2f}×" if r.latency_ms else "—"
        trips = "—" if r.round_trips_per_handoff is None else f"{r.round_trips_per_handoff:.1f}"
        lines.append(
            f"| {r.latency_ms:.0f} ms | {r.messages} | {r.concurrency} | {r.handoffs} "
            f"| {r.calls_per_handoff:.2f} | {r.p50:.1f} | {r.p95:.1f} | {r.p99:.1f} "
            f"| {ratio} | {r.per_second:.1f} | {r.store} | {r.store_calls_per_handoff:.1f} "
            f"| {trips} |"
        )
    return "\n".join(lines)


async def main(quick: bool, stores: list[str] | None = None) -> None:
    plan = [
        (0, 5, 1, 30),
        (0, 200, 1, 20),
        (0, 20, 10, 200),
        (50, 5, 1, 20),
        (50, 200, 1, 10),
        (50, 20, 10, 100),
    ]
    if quick:
        plan = [(lat, msgs, conc, max(5, n // 5)) for lat, msgs, conc, n in plan]
    results = [await run(*step, store=kind) for kind in stores or ["memory"] for step in plan]
    print(table(results))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a smaller run")
    parser.add_argument(
        "--store",
        default="memory",
        help=f"the store(s) under the host, comma-separated: {', '.join(STORES)}",
    )
    args = parser.parse_args()
    asyncio.run(main(args.quick, args.store.split(",")))
