"""Every benchmark in one run, written to bench/RESULTS.md (and bench/results.json).

    .venv/bin/python bench/run_all.py            # the full run (about 10 minutes)
    .venv/bin/python bench/run_all.py --quick    # a smaller run (about seven minutes)
    .venv/bin/python bench/run_all.py --render bench/results.json   # RESULTS.md again

One emulator process serves the whole run; each measurement runs in a process of
its own (``cell_process.py``, ``bench_replies.py``, ``profile_handoff.py``) against a
fresh org, with the same injected latency for every contender. The contenders of
one condition run back to back, so a change in the machine's load touches all of
them alike.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import subprocess
import sys
import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

from bench_appends import AppendResult
from bench_replies import ReplyResult
from emulator_process import EmulatorProcess
from handoff_workload import (
    CONCURRENCIES,
    LATENCIES_MS,
    MESSAGE_COUNTS,
    CellResult,
    CellSpec,
)
from machine_info import CpuProbe, Machine, describe, probe_cpu
from profile_handoff import ProfileResult
from render_goals import GOAL_CONTENDERS, LOADED
from render_results import COLLECTOR_CONTENDERS, CONTENDERS, render

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
OUT = HERE / "out"  # large or throw-away artifacts (git ignores them)
RESULT = "RESULT "
CELL_TIMEOUT = 600.0


@dataclass(frozen=True)
class Plan:
    """What a run measures. Handoff counts are bounded by a time budget per
    measurement and by how many conversations are prepared for it."""

    name: str
    latencies_ms: tuple[float, ...]
    messages: tuple[int, ...]
    concurrencies: tuple[int, ...]
    budget_seconds: float
    min_handoffs: int
    max_handoffs: dict[int, int]  # by transcript size
    outbox_workers: tuple[int, ...]
    outbox_concurrency: int
    outbox_messages: int
    replies: int
    append_seconds: float  # each appends measurement's closed loop
    profile_messages: int
    profile_seconds: float
    # The goals' cell again, this many rounds of its throughput contenders, each
    # round in another order: the goals' ratios are medians over the rounds.
    goal_rounds: int = 4

    def handoff_cells(self) -> list[CellSpec]:
        return [
            CellSpec(
                contender=contender,
                latency_ms=latency,
                messages=messages,
                concurrency=concurrency,
                budget_seconds=self.budget_seconds,
                max_handoffs=self.max_handoffs[messages],
                min_handoffs=self.min_handoffs,
            )
            for latency in self.latencies_ms
            for messages in self.messages
            for concurrency in self.concurrencies
            for contender in CONTENDERS
        ]

    def _at_goal(self) -> dict[str, CellSpec]:
        """Each contender's goals' cell (50 ms, 20 messages, 100 concurrent)."""
        return {
            spec.contender: spec
            for spec in self.handoff_cells()
            if (spec.latency_ms, spec.messages, spec.concurrency) == LOADED
        }

    def collector_cells(self) -> list[CellSpec]:
        """The goals' cell again, every competent baseline and durable plugin in a
        process left with CPython's default collector (``gc_threshold=0``)."""
        at_goal = self._at_goal()
        return [replace(at_goal[name], gc_threshold=0) for name in COLLECTOR_CONTENDERS]

    def goal_rounds_cells(self) -> list[list[CellSpec]]:
        """The goals' cell for :data:`GOAL_CONTENDERS`, :attr:`goal_rounds`
        times; each round starts one contender later, so none always runs first
        or beside the same neighbour."""
        at_goal = self._at_goal()
        rounds = []
        for n in range(self.goal_rounds):
            shift = (n + 1) % len(GOAL_CONTENDERS)
            rounds.append(
                [at_goal[name] for name in GOAL_CONTENDERS[shift:] + GOAL_CONTENDERS[:shift]]
            )
        return rounds

    def outbox_cells(self) -> list[CellSpec]:
        return [
            CellSpec(
                # The memory store: the workers' own effect, not the store's ceiling.
                contender="plugin+memory",
                latency_ms=latency,
                messages=self.outbox_messages,
                concurrency=self.outbox_concurrency,
                budget_seconds=self.budget_seconds,
                max_handoffs=self.max_handoffs[self.outbox_messages],
                min_handoffs=self.min_handoffs,
                outbox_workers=workers,
            )
            for latency in self.latencies_ms
            for workers in self.outbox_workers
        ]


FULL = Plan(
    name="full",
    latencies_ms=LATENCIES_MS,
    messages=MESSAGE_COUNTS,
    concurrencies=CONCURRENCIES,
    budget_seconds=2.0,
    min_handoffs=1,
    max_handoffs={5: 800, 20: 700, 100: 400, 200: 300},
    outbox_workers=(1, 16, 64, 256),
    outbox_concurrency=100,
    outbox_messages=20,
    replies=20,
    append_seconds=4.0,
    profile_messages=20,
    profile_seconds=3.0,
)

# The quick plan keeps the conditions the goals name (one at a time and
# 100 concurrent, 20 messages, 0 and 50 ms) for every contender on every store.
# Up to 1,500 handoffs a measurement, for 2 s: 400 at 100 concurrent were four
# rounds of the closed loop, so the first round's start (every conversation at
# once, nothing in flight yet) weighed on the figure as much as the steady state.
QUICK = replace(
    FULL,
    name="quick",
    messages=(5, 20),
    concurrencies=(1, 100),
    budget_seconds=2.0,
    min_handoffs=1,
    max_handoffs={5: 1500, 20: 1500, 100: 80, 200: 60},
    outbox_workers=(16, 64, 256),
    outbox_concurrency=100,
    replies=4,
    append_seconds=2.0,
    profile_seconds=1.0,
)


@dataclass
class Run:
    """Everything one run measured, as written to results.json."""

    plan: str
    command: str
    machine: Machine
    cpu_probes: list[CpuProbe] = field(default_factory=list)
    cells: list[CellResult] = field(default_factory=list)
    outbox_cells: list[CellResult] = field(default_factory=list)
    collector_cells: list[CellResult] = field(default_factory=list)
    goal_cells: list[CellResult] = field(default_factory=list)
    replies: list[ReplyResult] = field(default_factory=list)
    appends: list[AppendResult] = field(default_factory=list)
    profile: ProfileResult | None = None
    failures: list[str] = field(default_factory=list)
    seconds: float = 0.0

    def to_json(self) -> dict[str, Any]:
        return {
            "plan": self.plan,
            "command": self.command,
            "machine": self.machine.to_json(),
            "cpu_probes": [asdict(p) for p in self.cpu_probes],
            "cells": [c.to_json() for c in self.cells],
            "outbox_cells": [c.to_json() for c in self.outbox_cells],
            "collector_cells": [c.to_json() for c in self.collector_cells],
            "goal_cells": [c.to_json() for c in self.goal_cells],
            "replies": [r.to_json() for r in self.replies],
            "appends": [a.to_json() for a in self.appends],
            "profile": self.profile.to_json() if self.profile else None,
            "failures": self.failures,
            "seconds": self.seconds,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Run:
        return cls(
            plan=data["plan"],
            command=data["command"],
            machine=Machine(**data["machine"]),
            cpu_probes=[CpuProbe(**p) for p in data["cpu_probes"]],
            cells=[CellResult.from_json(c) for c in data["cells"]],
            outbox_cells=[CellResult.from_json(c) for c in data["outbox_cells"]],
            collector_cells=[CellResult.from_json(c) for c in data.get("collector_cells", [])],
            goal_cells=[CellResult.from_json(c) for c in data.get("goal_cells", [])],
            replies=[ReplyResult.from_json(r) for r in data["replies"]],
            appends=[AppendResult.from_json(a) for a in data.get("appends", [])],
            profile=ProfileResult.from_json(data["profile"]) if data["profile"] else None,
            failures=list(data["failures"]),
            seconds=float(data["seconds"]),
        )


def child(
    script: str,
    base_url: str,
    options: dict[str, Any],
    *,
    checkout: Path = REPO,
    env: dict[str, str] | None = None,
) -> dict[str, Any]:
    """Run a benchmark script in its own process; its result line, parsed.
    ``checkout``: the repository whose script (and package) runs; ``env``:
    variables added to this process's environment."""
    command = [sys.executable, str(checkout / "bench" / script), base_url, json.dumps(options)]
    done = subprocess.run(
        command,
        capture_output=True,
        text=True,
        timeout=CELL_TIMEOUT,
        cwd=checkout,
        env=None if env is None else {**os.environ, **env},
        check=False,
    )
    for line in done.stdout.splitlines():
        if line.startswith(RESULT):
            result: dict[str, Any] = json.loads(line[len(RESULT) :])
            return result
    tail = (done.stderr or done.stdout).strip().splitlines()[-5:]
    raise RuntimeError(f"{script} {options} failed (exit {done.returncode}): " + " | ".join(tail))


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def run_cell(base_url: str, spec: CellSpec, run: Run) -> CellResult | None:
    started = time.perf_counter()
    try:
        result = CellResult.from_json(child("cell_process.py", base_url, asdict(spec)))
    except (RuntimeError, subprocess.TimeoutExpired) as exc:
        run.failures.append(f"{spec.label()}: {exc}")
        log(f"  FAILED {spec.label()}: {exc}")
        return None
    log(
        f"  {spec.label()}: {result.handoffs} handoffs, {result.calls_per_handoff:.2f} calls "
        f"each, p50 {result.p(0.5):.1f} ms, {result.per_second:.1f}/s "
        f"({time.perf_counter() - started:.1f} s)"
    )
    return result


def measure(plan: Plan, command: str) -> Run:
    started = time.perf_counter()
    run = Run(plan=plan.name, command=command, machine=describe())
    run.cpu_probes.append(probe_cpu())
    with EmulatorProcess() as emulator:
        base = emulator.base_url
        log(f"emulator at {base}; plan {plan.name}")
        for spec in plan.handoff_cells():
            if (result := run_cell(base, spec, run)) is not None:
                run.cells.append(result)
        log(f"the goals' cell again: {plan.goal_rounds} rounds")
        for specs in plan.goal_rounds_cells():
            measured = [run_cell(base, spec, run) for spec in specs]
            # A round is whole or left out (its failure is in run.failures):
            # its ratios pair the contenders of one round.
            if all(result is not None for result in measured):
                run.goal_cells += [result for result in measured if result is not None]
        log("outbox workers")
        for spec in plan.outbox_cells():
            if (result := run_cell(base, spec, run)) is not None:
                run.outbox_cells.append(result)
        log("the goals' cell with CPython's default collector")
        for spec in plan.collector_cells():
            if (result := run_cell(base, spec, run)) is not None:
                run.collector_cells.append(result)
        log("reply path and sweep")
        for latency in plan.latencies_ms:
            try:
                asked = {"latency_ms": latency, "replies": plan.replies}
                run.replies.append(ReplyResult.from_json(child("bench_replies.py", base, asked)))
            except (RuntimeError, subprocess.TimeoutExpired) as exc:
                run.failures.append(f"replies at {latency:.0f} ms: {exc}")
        log("appends (contacts writing again on open Cases)")
        for latency in plan.latencies_ms:
            for concurrency in plan.concurrencies:
                asked = {
                    "latency_ms": latency,
                    "concurrency": concurrency,
                    "budget_seconds": plan.append_seconds,
                }
                try:
                    appended = AppendResult.from_json(child("bench_appends.py", base, asked))
                except (RuntimeError, subprocess.TimeoutExpired) as exc:
                    run.failures.append(f"appends at {latency:.0f} ms, {concurrency}: {exc}")
                    continue
                run.appends.append(appended)
                log(
                    f"  appends {latency:.0f} ms, {concurrency} concurrent: {appended.appends}, "
                    f"{appended.calls_per_append:.3f} calls each, p50 {appended.p(0.5):.1f} ms, "
                    f"{appended.per_second:.1f}/s"
                )
        log("profile")
        try:
            options = {
                "messages": plan.profile_messages,
                "budget_seconds": plan.profile_seconds,
                "out": str(OUT / "profile_handoff"),
            }
            OUT.mkdir(exist_ok=True)
            run.profile = ProfileResult.from_json(child("profile_handoff.py", base, options))
        except (RuntimeError, subprocess.TimeoutExpired) as exc:
            run.failures.append(f"profile: {exc}")
    run.cpu_probes.append(probe_cpu())
    run.seconds = time.perf_counter() - started
    return run


def write(run: Run, results_md: Path, results_json: Path, notes: Path) -> None:
    results_json.write_text(json.dumps(run.to_json(), indent=1) + "\n")
    extra = notes.read_text() if notes.exists() else ""
    shown = str(results_json.resolve().relative_to(REPO))
    results_md.write_text(render(run, profile_notes=extra, results_file=shown))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true", help="a smaller run (about seven minutes)")
    parser.add_argument(
        "--render", type=Path, metavar="JSON", help="write RESULTS.md from a results.json"
    )
    parser.add_argument(
        "--out",
        type=Path,
        help="the report (default: bench/RESULTS.md; with --quick bench/out/RESULTS-quick.md)",
    )
    args = parser.parse_args(argv)
    default = OUT / "RESULTS-quick.md" if args.quick else HERE / "RESULTS.md"
    out: Path = args.out or default
    out.parent.mkdir(parents=True, exist_ok=True)
    results_json = out.with_name(
        "results.json" if out == HERE / "RESULTS.md" else out.stem + ".json"
    )
    notes = HERE / "profile_notes.md"
    if args.render:
        run = Run.from_json(json.loads(args.render.read_text()))
        extra = notes.read_text() if notes.exists() else ""
        out.write_text(render(run, profile_notes=extra, results_file=str(args.render)))
        return 0
    shown = [".venv/bin/python", "bench/run_all.py", *([] if not args.quick else ["--quick"])]
    run = measure(QUICK if args.quick else FULL, shlex.join(shown))
    write(run, out, results_json, notes)
    log(f"wrote {out} and {results_json} in {run.seconds:.0f} s")
    return 1 if run.failures else 0


if __name__ == "__main__":
    sys.exit(main())
