"""When the plugin's Cases last saw activity: what makes the sweep "hot".

A Case in a conversation in progress (just handed off, the contact writing, a
rep's reply, a webhook) is where a reply is about to come, so that is where a
lost webhook matters most. The sweep looks every ``sweep_interval_seconds`` while
anything happened in the last ``sweep_hot_seconds``, and only every
``sweep_healthy_interval_seconds`` otherwise (docs/design.md, "The sweep's
cost"). One discovery call covers every Case, so hotness is one timestamp for
the install, not one per Case.

The timestamp lives in the store so that the instance holding the sweep lock
sees activity noted on another. A store write per event would tax the handoff
path, so one is made at most every :data:`WRITE_EVERY` seconds per instance:
another instance's view of the last activity can be that much early, which
shortens a ten-minute hot spell by seconds.
"""

from __future__ import annotations

from opencx_salesforce.clock import SYSTEM_CLOCK, Clock
from opencx_salesforce.store import namespaces
from opencx_salesforce.store.base import Store

NS = namespaces.REPLIES
KEY = "sweep:activity"
WRITE_EVERY = 10.0  # seconds between two store writes of one instance


class Activity:
    def __init__(self, store: Store, *, clock: Clock = SYSTEM_CLOCK) -> None:
        self._store = store
        self._clock = clock
        self._local: float | None = None  # the last activity this instance saw
        self._written: float | None = None  # when this instance last wrote it

    async def note(self) -> None:
        """Something happened on an open Case (or one about to open)."""
        now = self._clock.time()
        self._local = now if self._local is None else max(self._local, now)
        if self._written is not None and now - self._written < WRITE_EVERY:
            return
        self._written = now
        # Last writer wins: instances' clocks agree to within seconds, and an
        # older value only ends a hot spell a little early.
        await self._store.set(NS, KEY, repr(now).encode())

    async def last(self) -> float | None:
        """The latest activity seen by any instance, or None."""
        raw = await self._store.get(NS, KEY)
        stored = float(raw) if raw else None
        known = [t for t in (stored, self._local) if t is not None]
        return max(known) if known else None

    async def hot(self, window: float) -> bool:
        """Whether anything happened in the last ``window`` seconds."""
        last = await self.last()
        return last is not None and self._clock.time() - last < window
