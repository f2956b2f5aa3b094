"""Where the plugin's handoff path spends its CPU: pyinstrument over the timed part
of a plugin measurement (0 ms injected latency, 10 concurrent conversations).

    python bench/profile_handoff.py BASE_URL '{"messages": 20, "budget_seconds": 3}'

The emulator runs in its own process, so the profile holds only the host, the
plugin and the benchmark's driver. The whole event-loop thread is sampled
(``async_mode="disabled"``): time the loop spends waiting for the emulator shows
as the selector's ``select``. Prints the aggregated hot spots as JSON and writes
pyinstrument's own text and HTML reports next to ``--out``.
"""

from __future__ import annotations

import asyncio
import gc
import json
import logging
import sys
import time
from collections import defaultdict
from collections.abc import Awaitable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, TypeVar

from contender_plugin import run_cell
from handoff_workload import CellResult, CellSpec
from pyinstrument import Profiler
from pyinstrument.frame import Frame
from pyinstrument.stack_sampler import get_stack_sampler

RESULT = "RESULT "
T = TypeVar("T")
REPO = Path(__file__).resolve().parent.parent
TOP = 15


@dataclass(frozen=True)
class HotSpot:
    where: str  # path:line of the function's definition
    function: str
    seconds: float
    share: float  # of the CPU time sampled


class GcClock:
    """Time the garbage collector takes, by generation (``gc.callbacks``): a
    collection shows in a sampling profile as time in whatever allocated last."""

    def __init__(self) -> None:
        self.seconds = [0.0, 0.0, 0.0]
        self.collections = [0, 0, 0]
        self._started = 0.0

    def __call__(self, phase: str, info: dict[str, Any]) -> None:
        if phase == "start":
            self._started = time.perf_counter()
        else:
            generation = int(info["generation"])
            self.seconds[generation] += time.perf_counter() - self._started
            self.collections[generation] += 1


@dataclass
class ProfileResult:
    cell: dict[str, Any]  # the measurement taken under the profiler
    profiled_seconds: float
    cpu_seconds: float  # this process's CPU time while profiled
    gc_seconds: list[float]  # by generation, while profiled
    gc_collections: list[int]
    by_self_time: list[HotSpot]  # any code, by time spent in the function itself
    plugin_by_own_time: list[HotSpot]  # the project's functions with the libraries they call
    text_report: str
    html_report: str
    tree: str = ""  # pyinstrument's text report itself, so the results stand alone

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ProfileResult:
        values = dict(data)
        for key in ("by_self_time", "plugin_by_own_time"):
            values[key] = [HotSpot(**h) for h in values[key]]
        return cls(**values)


def _where(frame: Frame) -> str:
    path = frame.file_path or "?"
    try:
        path = str(Path(path).resolve().relative_to(REPO))
    except ValueError:
        marker = "site-packages/"
        path = path.split(marker, 1)[1] if marker in path else path.rsplit("/lib/", 1)[-1]
    return f"{path}:{frame.line_no}"


def _shown(path: Path) -> str:
    path = path.resolve()
    return str(path.relative_to(REPO)) if path.is_relative_to(REPO) else str(path)


def _is_project(frame: Frame) -> bool:
    path = frame.file_path or ""
    return "/opencx_salesforce/" in path and "/site-packages/" not in path


def hot_spots(root: Frame, total: float) -> tuple[list[HotSpot], list[HotSpot]]:
    """(every function by its own time; the project's functions by their own time
    plus the library code they call, their project callees left out).

    The second ranking names the project line to change: time in pydantic or
    json counts against the project function that asked for it, while the
    outbox's and the case service's call chain, which only pass the work down,
    do not top it."""
    own: defaultdict[tuple[str, str], float] = defaultdict(float)
    project: defaultdict[tuple[str, str], float] = defaultdict(float)

    def walk(frame: Frame) -> None:
        if frame.is_synthetic:
            return
        key = (_where(frame), frame.function)
        own[key] += frame.total_self_time
        if _is_project(frame):
            handed_down = sum(c.time for c in frame.children if _under_project(c))
            project[key] += frame.time - handed_down
        for child in frame.children:
            walk(child)

    walk(root)

    def top(table: dict[tuple[str, str], float]) -> list[HotSpot]:
        ranked = sorted(table.items(), key=lambda item: item[1], reverse=True)[:TOP]
        return [HotSpot(w, f, round(s, 4), round(s / total, 4)) for (w, f), s in ranked]

    return top(own), top(project)


def _under_project(frame: Frame) -> bool:
    """Whether ``frame``'s time belongs to project code: it is project code, or
    hidden library frames (asyncio, contextlib) lead down to some."""
    if frame.is_synthetic:
        return False
    if _is_project(frame):
        return True
    return any(_under_project(child) for child in frame.children)


async def run(base_url: str, messages: int, budget_seconds: float, out: Path) -> ProfileResult:
    spec = CellSpec(
        contender="plugin+memory",  # as the profile recorded before, for a like-for-like reading
        latency_ms=0.0,
        messages=messages,
        concurrency=10,
        budget_seconds=budget_seconds,
        max_handoffs=2000,
    )
    # Sampled on this process's CPU clock, not the wall clock: on a shared machine
    # the process waits for a core at random places, and wall-clock samples would
    # charge that wait to whatever line was running. (pyinstrument's sampler takes
    # a timer function; idle time in the selector then costs nothing, as it should.)
    get_stack_sampler().timer_func = time.process_time
    profiler = Profiler(interval=0.001, async_mode="disabled")
    gc_clock = GcClock()
    cpu = [0.0]

    async def profiled(timed: Awaitable[T]) -> T:
        gc.callbacks.append(gc_clock)
        cpu[0] = time.process_time()
        profiler.start()
        try:
            return await timed
        finally:
            profiler.stop()
            cpu[0] = time.process_time() - cpu[0]
            gc.callbacks.remove(gc_clock)

    cell: CellResult = await run_cell(spec, base_url, around=profiled)
    session = profiler.last_session
    assert session is not None
    root = session.root_frame()
    assert root is not None
    own, inclusive = hot_spots(root, root.time)
    text_path, html_path = out.with_suffix(".txt"), out.with_suffix(".html")
    tree = profiler.output_text(unicode=True, color=False, show_all=False)
    text_path.write_text(tree)
    html_path.write_text(profiler.output_html())
    return ProfileResult(
        cell=cell.to_json(),
        profiled_seconds=session.duration,
        cpu_seconds=cpu[0],
        gc_seconds=[round(s, 4) for s in gc_clock.seconds],
        gc_collections=gc_clock.collections,
        by_self_time=own,
        plugin_by_own_time=inclusive,
        text_report=_shown(text_path),
        html_report=_shown(html_path),
        tree=tree,
    )


def main(argv: list[str]) -> int:
    base_url, raw = argv
    options = json.loads(raw)
    logging.basicConfig(level=logging.ERROR)
    result = asyncio.run(
        run(
            base_url,
            int(options["messages"]),
            float(options["budget_seconds"]),
            Path(options["out"]),
        )
    )
    print(RESULT + json.dumps(result.to_json()), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
