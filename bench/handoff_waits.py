"""Where a loaded handoff waits: its phases, the event loop's turns and, on
SQLite, the store's writes, from one plugin cell (``cell_process.py``'s closed
loop) with timers wrapped around the methods involved. Nothing the plugin does
changes; the timers add a little to every figure.

    .venv/bin/python bench/handoff_waits.py                          # SQLite, 50 ms, 100 concurrent
    .venv/bin/python bench/handoff_waits.py --contender plugin+memory --latency-ms 0

The emulator runs in a process of its own (``emulator_process.py``). Prints
Markdown: each phase's p50 and p90, the loop's turns (how many a handoff, how
long, and the turn a moment falls in: the time-weighted median, what an await
settled by another callback waits for), and the SQLite writes (a write from
its call to its caller resuming; a group commit's units and wall time).
"""

from __future__ import annotations

import argparse
import asyncio
import asyncio.base_events
import contextlib
import itertools
import logging
import statistics
import time
from collections import defaultdict
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, TypeVar

import contender_plugin
from emulator_process import EmulatorProcess
from handoff_workload import CellSpec, percentile

from opencx_salesforce.cases.create import CaseCreator
from opencx_salesforce.cases.index import CaseIndex
from opencx_salesforce.cases.service import CaseService
from opencx_salesforce.devhost.host import DevHost
from opencx_salesforce.devhost.sessions import SessionRepository
from opencx_salesforce.outbox.queue import Job
from opencx_salesforce.store import _sqlite_connection

T = TypeVar("T")

# A handoff's moments, in the order they happen.
PHASES = (
    "host called",  # DevHost.handoff
    "status written",  # the host's journal entry and session change are stored
    "job started",  # the plugin's job, after its own write
    "index read",  # the job's reads under the contact's lock
    "sent",  # Salesforce answered the request that carried it
    "Case linked",  # the host's session carries the Case Id
)


@dataclass
class Waits:
    on: bool = False
    moments: dict[str, dict[str, float]] = field(default_factory=lambda: defaultdict(dict))
    turns: list[float] = field(default_factory=list)
    writes: list[float] = field(default_factory=list)
    batches: list[tuple[int, float]] = field(default_factory=list)  # units, seconds

    def mark(self, session_id: str, moment: str) -> None:
        if self.on:
            self.moments[session_id].setdefault(moment, time.perf_counter())


@contextlib.contextmanager
def patched(owner: Any, name: str, make: Callable[[Any], Any]) -> Iterator[None]:
    original = getattr(owner, name)
    setattr(owner, name, make(original))
    try:
        yield
    finally:
        setattr(owner, name, original)


@contextlib.contextmanager
def timers(waits: Waits) -> Iterator[None]:
    """The wrappers, on for the ``with`` block only."""

    def host_handoff(original: Any) -> Any:
        async def handoff(self: DevHost, session_id: str, *args: Any, **kw: Any) -> Any:
            waits.mark(session_id, "host called")
            return await original(self, session_id, *args, **kw)

        return handoff

    def update(original: Any) -> Any:
        async def wrapped(self: SessionRepository, session_id: str, *a: Any, **kw: Any) -> Any:
            result = await original(self, session_id, *a, **kw)
            seen = waits.moments.get(session_id, {})
            waits.mark(session_id, "Case linked" if "status written" in seen else "status written")
            return result

        return wrapped

    def job(original: Any) -> Any:
        async def wrapped(self: CaseService, job: Job) -> Any:
            waits.mark(job.item_id.partition(":")[2], "job started")
            return await original(self, job)

        return wrapped

    def reads(original: Any) -> Any:
        async def wrapped(self: CaseIndex, session_id: str, *a: Any) -> Any:
            result = await original(self, session_id, *a)
            waits.mark(session_id, "index read")
            return result

        return wrapped

    def linking(original: Any) -> Any:
        async def wrapped(self: CaseCreator, session_id: str, *a: Any) -> Any:
            waits.mark(session_id, "sent")
            return await original(self, session_id, *a)

        return wrapped

    def turn(original: Any) -> Any:
        def wrapped(self: Any) -> None:
            started = time.perf_counter()
            original(self)
            if waits.on:
                waits.turns.append(time.perf_counter() - started)

        return wrapped

    def write(original: Any) -> Any:
        async def wrapped(self: Any, *a: Any, **kw: Any) -> Any:
            started = time.perf_counter()
            try:
                return await original(self, *a, **kw)
            finally:
                if waits.on:
                    waits.writes.append(time.perf_counter() - started)

        return wrapped

    # A group commit, wherever it runs (on the loop, split, on the writer's
    # thread): from the loop taking its units to their callers' answers. One
    # batch is in progress at a time on a connection.
    batch_started: dict[int, float] = {}

    def commit_next(original: Any) -> Any:
        def wrapped(self: Any) -> None:
            batch_started[id(self)] = time.perf_counter()
            original(self)

        return wrapped

    def committed(original: Any) -> Any:
        def wrapped(self: Any, batch: list[Any], ok: bool, value: Any) -> None:
            started = batch_started.get(id(self))
            if waits.on and started is not None:
                waits.batches.append((len(batch), time.perf_counter() - started))
            original(self, batch, ok, value)

        return wrapped

    with contextlib.ExitStack() as stack:
        stack.enter_context(patched(DevHost, "handoff", host_handoff))
        stack.enter_context(patched(SessionRepository, "update", update))
        stack.enter_context(patched(CaseService, "handle_handoff", job))
        stack.enter_context(patched(CaseIndex, "handoff_reads", reads))
        stack.enter_context(patched(CaseCreator, "set_session_fields", linking))
        stack.enter_context(patched(asyncio.base_events.BaseEventLoop, "_run_once", turn))
        stack.enter_context(patched(_sqlite_connection.SQLiteConnection, "write", write))
        connection = _sqlite_connection.SQLiteConnection
        stack.enter_context(patched(connection, "_commit_next", commit_next))
        stack.enter_context(patched(connection, "_committed", committed))
        yield


def _ms(values: list[float], q: float) -> str:
    return f"{1000 * percentile(values, q):.1f}"


def report(waits: Waits, handoffs: int, per_second: float, label: str) -> str:
    lines = [f"**{label}**: {handoffs} handoffs, {per_second:.0f}/s", ""]
    lines += ["| phase | p50 ms | p90 ms | n |", "|---|---|---|---|"]
    whole = [m for m in waits.moments.values() if all(p in m for p in PHASES)]
    for before, after in itertools.pairwise(PHASES):
        spans = [m[after] - m[before] for m in whole]
        if spans:
            lines.append(
                f"| {before} → {after} | {_ms(spans, 0.5)} | {_ms(spans, 0.9)} | {len(spans)} |"
            )
    spans = [m[PHASES[-1]] - m[PHASES[0]] for m in whole]
    if spans:
        lines.append(f"| whole | {_ms(spans, 0.5)} | {_ms(spans, 0.9)} | {len(spans)} |")
    lines.append("")
    if waits.turns:
        total = sum(waits.turns)
        weighted, seen = 0.0, 0.0
        for turn in sorted(waits.turns):
            seen += turn
            if seen >= total / 2:
                weighted = turn
                break
        lines.append(
            f"- event loop: {len(waits.turns) / max(handoffs, 1):.1f} turns a handoff, "
            f"{1000 * statistics.mean(waits.turns):.2f} ms each on average, "
            f"the turn a moment falls in {1000 * weighted:.2f} ms (time-weighted median)"
        )
    if waits.writes:
        units = [u for u, _ in waits.batches]
        lines.append(
            f"- SQLite writes: {len(waits.writes) / max(handoffs, 1):.1f} a handoff, "
            f"p50 {_ms(waits.writes, 0.5)} ms, p90 {_ms(waits.writes, 0.9)} ms from call to "
            f"caller; group commits: {statistics.median(units):.0f} units at p50, "
            f"{_ms([s for _, s in waits.batches], 0.5)} ms at p50 from the loop taking "
            "them to their callers' answers"
        )
    return "\n".join(lines)


async def measure(
    base_url: str,
    contender: str,
    latency_ms: float,
    budget_seconds: float = 4.0,
    *,
    concurrency: int = 100,
    conversations: int = 9000,
) -> str:
    """One cell (``concurrency`` conversations of 20 messages at a time, as
    ``cell_process.py`` runs it) with the timers on for its timed part; Markdown."""
    waits = Waits()

    async def timed(loop: Awaitable[T]) -> T:
        waits.on = True
        try:
            return await loop
        finally:
            waits.on = False

    spec = CellSpec(contender, latency_ms, 20, concurrency, budget_seconds, conversations)
    with timers(waits):
        cell = await contender_plugin.run_cell(spec, base_url, around=timed)
    return report(waits, cell.handoffs, cell.per_second, spec.label())


async def main(contenders: list[str], latency_ms: float, budget_seconds: float) -> None:
    with EmulatorProcess() as emulator:
        for contender in contenders:
            print(await measure(emulator.base_url, contender, latency_ms, budget_seconds))
            print(flush=True)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--contender", action="append", help="plugin (SQLite), plugin+memory, …")
    parser.add_argument("--latency-ms", type=float, default=50.0)
    parser.add_argument("--seconds", type=float, default=4.0)
    args = parser.parse_args()
    logging.basicConfig(level=logging.ERROR)
    asyncio.run(main(args.contender or ["plugin"], args.latency_ms, args.seconds))
