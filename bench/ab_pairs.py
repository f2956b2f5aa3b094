"""Interleaved pairs of one cell: is a change faster, on a machine whose speed
drifts by ±15 % within the hour (``profile_notes.md``, session 18)?

    .venv/bin/python bench/ab_pairs.py plugin plugin@/tmp/base    # against another checkout
    .venv/bin/python bench/ab_pairs.py --rounds 8 plugin plugin:MY_KNOB=1
    .venv/bin/python bench/ab_pairs.py --latency-ms 0 plugin plugin+memory

A contender is ``NAME[@CHECKOUT][:VAR=VALUE,...]``: a contender of
``cell_process.py`` (``plugin``, ``plugin+redis``, ``simple-salesforce+collections``,
...), run from ``CHECKOUT`` (a ``git worktree`` of another commit; default:
this one) with the environment variables given. One emulator process serves
every cell; each round runs every contender once, in the other order every
other round, so a change in the machine's speed touches both of a pair alike.
Prints each cell, then each contender's median rate and CPU a handoff, and
how many rounds the second contender beat the first in: a change is only
read from rounds that agree, not from medians a few percent apart.
"""

from __future__ import annotations

import argparse
import statistics
import sys
from dataclasses import asdict, dataclass, field
from pathlib import Path

from emulator_process import EmulatorProcess
from handoff_workload import CellSpec
from run_all import child

HERE = Path(__file__).resolve().parent


@dataclass(frozen=True)
class Contender:
    label: str
    name: str
    checkout: Path
    env: dict[str, str] = field(default_factory=dict)

    @classmethod
    def parse(cls, text: str) -> Contender:
        head, _, env = text.partition(":")
        name, _, checkout = head.partition("@")
        variables = dict(pair.split("=", 1) for pair in env.split(",") if pair)
        return cls(text, name, Path(checkout).resolve() if checkout else HERE.parent, variables)


@dataclass
class Cell:
    rate: float  # handoffs a second
    cpu_ms: float  # the contender's process's CPU a handoff


def run_cell(contender: Contender, spec: CellSpec, base_url: str) -> Cell:
    root = contender.checkout
    # PYTHONPATH first: the checkout's package, not the one installed here.
    env = {"PYTHONPATH": str(root), **contender.env}
    data = child("cell_process.py", base_url, asdict(spec), checkout=root, env=env)
    handoffs = data["handoffs"]
    return Cell(handoffs / data["elapsed_seconds"], 1000 * data["client_cpu_seconds"] / handoffs)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("contenders", nargs="+", help="NAME[@CHECKOUT][:VAR=VALUE,...]")
    parser.add_argument("--rounds", type=int, default=8)
    parser.add_argument("--latency-ms", type=float, default=50.0)
    parser.add_argument("--messages", type=int, default=20)
    parser.add_argument("--concurrency", type=int, default=100)
    parser.add_argument("--seconds", type=float, default=4.0, help="each cell's timed part")
    args = parser.parse_args()
    contenders = [Contender.parse(text) for text in args.contenders]
    cells: dict[str, list[Cell]] = {c.label: [] for c in contenders}
    with EmulatorProcess() as emulator:
        for round_number in range(args.rounds):
            order = contenders if round_number % 2 == 0 else contenders[::-1]
            for contender in order:
                spec = CellSpec(
                    contender=contender.name,
                    latency_ms=args.latency_ms,
                    messages=args.messages,
                    concurrency=args.concurrency,
                    budget_seconds=args.seconds,
                    # Conversations made up front: enough for 1,500/s.
                    max_handoffs=int(args.seconds * 1500),
                )
                cell = run_cell(contender, spec, emulator.base_url)
                cells[contender.label].append(cell)
                print(
                    f"round {round_number + 1}: {contender.label}: {cell.rate:.0f}/s, "
                    f"CPU {cell.cpu_ms:.2f} ms a handoff",
                    flush=True,
                )
    for label, found in cells.items():
        rates = ", ".join(f"{c.rate:.0f}" for c in found)
        print(
            f"{label}: {statistics.median(c.rate for c in found):.0f}/s at the median "
            f"({rates}), CPU {statistics.median(c.cpu_ms for c in found):.2f} ms a handoff"
        )
    if len(contenders) == 2:
        first, second = (cells[c.label] for c in contenders)
        wins = sum(b.rate > a.rate for a, b in zip(first, second, strict=True))
        print(f"{contenders[1].label} faster in {wins} of {len(first)} rounds")
    return 0


if __name__ == "__main__":
    sys.exit(main())
