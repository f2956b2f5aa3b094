"""Waiting for something another task does: the demo, the tests and the
benchmarks watch the host's sessions this way (the host has no events to
subscribe to)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any


class WaitTimedOut(AssertionError):
    """The condition did not come true in time; the message names it."""


async def wait_for(
    check: Callable[[], Awaitable[Any]],
    *,
    timeout: float = 15.0,
    what: str = "condition",
    every: float = 0.02,
) -> Any:
    """Await ``check()`` every ``every`` seconds until it returns something true,
    and return that; raise :class:`WaitTimedOut` naming ``what`` after ``timeout``."""
    deadline = time.monotonic() + timeout
    while True:
        value = await check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise WaitTimedOut(f"timed out waiting for {what}")
        await asyncio.sleep(every)
