"""What the numbers were measured on: the machine, the software, and how much CPU
was really free while they were taken (a shared machine gives a process less
than a core; the probe says how much less)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
PACKAGES = ("aiohttp", "simple-salesforce", "requests", "pyinstrument", "pydantic")
PROBE_LOOP = 3_000_000


@dataclass(frozen=True)
class CpuProbe:
    """A fixed busy loop, alone and two at once: the CPU time each got per
    second of wall time (1.0: a whole core)."""

    at: str
    load_average: str
    alone: float
    two_at_once: float


@dataclass(frozen=True)
class Machine:
    uname: str
    cpu_model: str
    nproc: int
    memory: str
    python: str
    packages: dict[str, str]
    commit: str
    date: str

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def _read(path: str) -> str:
    try:
        return Path(path).read_text()
    except OSError:
        return ""


def _field(text: str, name: str) -> str:
    for line in text.splitlines():
        key, _, value = line.partition(":")
        if key.strip() == name:
            return value.strip()
    return "unknown"


def _run(*command: str) -> str:
    try:
        return subprocess.run(
            command, capture_output=True, text=True, check=True, cwd=REPO
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def describe() -> Machine:
    memory = _field(_read("/proc/meminfo"), "MemTotal")
    if memory.endswith(" kB"):
        memory = f"{int(memory[:-3]) / 1024 / 1024:.1f} GiB"
    packages = {}
    for name in PACKAGES:
        try:
            packages[name] = version(name)
        except PackageNotFoundError:
            packages[name] = "not installed"
    commit = _run("git", "rev-parse", "--short", "HEAD")
    if _run("git", "status", "--porcelain"):
        commit += " (with uncommitted changes)"
    return Machine(
        uname=_run("uname", "-a"),
        cpu_model=_field(_read("/proc/cpuinfo"), "model name"),
        nproc=len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else 0,
        memory=memory,
        python=sys.version.replace("\n", " "),
        packages=packages,
        commit=commit,
        date=datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
    )


_BUSY = """
import sys, time
wall, cpu = time.perf_counter(), time.process_time()
x = 0
for i in range(int(sys.argv[1])):
    x += i
print((time.process_time() - cpu) / (time.perf_counter() - wall))
"""


def _busy(copies: int, loops: int) -> float:
    command = [sys.executable, "-c", _BUSY, str(loops)]
    processes = [
        subprocess.Popen(command, stdout=subprocess.PIPE, text=True) for _ in range(copies)
    ]
    shares = [float(p.communicate()[0]) for p in processes]
    return min(shares)


def probe_cpu(loops: int = PROBE_LOOP) -> CpuProbe:
    return CpuProbe(
        at=time.strftime("%H:%M:%S"),
        load_average=" ".join(_read("/proc/loadavg").split()[:3]),
        alone=round(_busy(1, loops), 2),
        two_at_once=round(_busy(2, loops), 2),
    )
