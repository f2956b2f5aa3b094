"""The plugin's clock, injectable so tests move time instead of sleeping.

Every place in the plugin that reads the time or waits takes a :class:`Clock`;
:mod:`opencx_salesforce.runtime` hands the same one to all of them. Production
runs on :class:`SystemClock`. Tests pass a :class:`ManualClock` and call
:meth:`ManualClock.advance` to make "ninety seconds later" happen at once.

Times that decide ownership across host instances (lease and lock expiry) come
from the store, not from this clock (DESIGN.md, "Scale").
"""

from __future__ import annotations

import asyncio
import time
from typing import Protocol


class Clock(Protocol):
    def time(self) -> float:
        """Seconds since the epoch (wall time)."""
        ...

    def monotonic(self) -> float:
        """Seconds on a clock that never goes back (for deadlines)."""
        ...

    async def sleep(self, seconds: float) -> None:
        """Wait ``seconds``."""
        ...


class SystemClock:
    """The real time."""

    def time(self) -> float:
        return time.time()

    def monotonic(self) -> float:
        return time.monotonic()

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds)


class ManualClock:
    """Time that moves only when a test says so.

    ``sleep`` waits until :meth:`advance` has moved the clock past its end, so a
    background loop sleeping on this clock runs exactly when the test lets it."""

    def __init__(self, start: float = 1_764_000_000.0) -> None:
        self._now = start
        self._monotonic = 0.0
        self._sleepers: list[tuple[float, asyncio.Future[None]]] = []

    def time(self) -> float:
        return self._now

    def monotonic(self) -> float:
        return self._monotonic

    async def sleep(self, seconds: float) -> None:
        if seconds <= 0:
            await asyncio.sleep(0)
            return
        wake = asyncio.get_running_loop().create_future()
        self._sleepers.append((self._monotonic + seconds, wake))
        await wake

    def sleepers(self) -> int:
        """How many sleeps are waiting for :meth:`advance` (a background loop
        waiting here has finished its pass)."""
        return sum(1 for _, future in self._sleepers if not future.done())

    def next_wake(self) -> float | None:
        """Seconds until the earliest waiting sleep ends, or None if none waits."""
        waiting = [at for at, future in self._sleepers if not future.done()]
        return max(0.0, min(waiting) - self._monotonic) if waiting else None

    def advance(self, seconds: float) -> None:
        """Move time forward and wake every sleeper whose time has come."""
        if seconds < 0:
            raise ValueError("a clock does not go back")
        self._now += seconds
        self._monotonic += seconds
        due = [(at, f) for at, f in self._sleepers if at <= self._monotonic]
        self._sleepers = [(at, f) for at, f in self._sleepers if at > self._monotonic]
        for _, future in due:
            if not future.done():
                future.set_result(None)


SYSTEM_CLOCK: Clock = SystemClock()
