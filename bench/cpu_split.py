"""Where a handoff's CPU is spent: the event loop's thread against the process
(the difference is the process's other threads: SQLite's writer and reader,
when its commits and reads run there, and its checkpoints).

    .venv/bin/python bench/cpu_split.py            # the plugin on SQLite and memory, 0 ms
    .venv/bin/python bench/cpu_split.py --contender plugin+redis --latency-ms 50

The emulator runs in a process of its own (``emulator_process.py``); each
measurement is one cell of ``run_all.py`` (100 concurrent conversations of 20
messages), timed around the closed loop only.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import time
from collections.abc import Awaitable
from typing import TypeVar

import contender_plugin
from emulator_process import EmulatorProcess
from handoff_workload import CellSpec

T = TypeVar("T")


async def split(
    base_url: str, contender: str, latency_ms: float, budget_seconds: float = 2.0
) -> str:
    """One Markdown row: handoffs a second, then CPU a handoff on the loop's
    thread, on the others, and in all."""
    clocks: dict[str, float] = {}

    async def timed(loop: Awaitable[T]) -> T:
        # measure()'s hook around the timed part (the profiler's, too).
        thread, process = time.thread_time(), time.process_time()
        try:
            return await loop
        finally:
            clocks["loop"] = time.thread_time() - thread
            clocks["process"] = time.process_time() - process

    spec = CellSpec(contender, latency_ms, 20, 100, budget_seconds, 700)
    cell = await contender_plugin.run_cell(spec, base_url, around=timed)
    per = 1000 / max(cell.handoffs, 1)
    loop, process = clocks["loop"] * per, clocks["process"] * per
    return (
        f"| {contender} | {latency_ms:.0f} ms | {cell.per_second:.0f}/s | {loop:.2f} ms "
        f"| {process - loop:.2f} ms | {process:.2f} ms |"
    )


async def main(contenders: list[str], latency_ms: float) -> None:
    print("| contender | RTT | handoffs/s | loop thread | other threads | process |")
    print("|---|---|---|---|---|---|")
    with EmulatorProcess() as emulator:
        for contender in contenders:
            print(await split(emulator.base_url, contender, latency_ms), flush=True)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--contender", action="append", help="plugin, plugin+memory, …")
    parser.add_argument("--latency-ms", type=float, default=0.0)
    args = parser.parse_args()
    logging.basicConfig(level=logging.ERROR)
    asyncio.run(main(args.contender or ["plugin", "plugin+memory"], args.latency_ms))
