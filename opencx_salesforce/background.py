"""Tasks a component starts on its own behalf (a batch's request, a lookup),
held so that none is lost to the garbage collector while it runs, and so that
stopping the component can end them before what they use (the HTTP session)
is closed.
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any


class Background:
    def __init__(self) -> None:
        self._tasks: set[asyncio.Task[None]] = set()
        self._closed = False

    @property
    def closed(self) -> bool:
        """Closed: its owner starts no more work (it checks, before it takes
        any from its callers)."""
        return self._closed

    def spawn(self, work: Coroutine[Any, Any, None], *, name: str | None = None) -> None:
        task = asyncio.create_task(work, name=name)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def running(self) -> bool:
        return bool(self._tasks)

    async def close(self) -> None:
        """Closed from now on; every task cancelled, and ended when this returns."""
        self._closed = True
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
