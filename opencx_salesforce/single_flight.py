"""One call in flight, shared by every caller that asks while it runs.

Callers that arrive while the call is running await the same result (or the
same error); the next caller after it ends starts a new one. A caller that is
cancelled does not cancel the call the others wait for (``asyncio.shield``).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Generic, TypeVar

_T = TypeVar("_T")


class SingleFlight(Generic[_T]):
    def __init__(self) -> None:
        self._inflight: asyncio.Future[_T] | None = None

    async def run(self, call: Callable[[], Awaitable[_T]]) -> _T:
        """The running call's outcome, or ``call()``'s when none runs."""
        inflight = self._inflight
        if inflight is None or inflight.done():
            inflight = asyncio.ensure_future(call())
            self._inflight = inflight
            inflight.add_done_callback(self._forget)
        return await asyncio.shield(inflight)

    def _forget(self, done: asyncio.Future[_T]) -> None:
        if self._inflight is done:
            self._inflight = None
        if not done.cancelled():
            done.exception()  # retrieved: every waiter may have been cancelled
