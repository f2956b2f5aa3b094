"""Does a store take a write and give it back? What the reference host's
``/healthz``, ``doctor``'s store check and a running instance's
:class:`WriteWatch` ask."""

from __future__ import annotations

import asyncio
import logging
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass

from opencx_salesforce.store.base import Store

log = logging.getLogger(__name__)

PROBE_TTL = 60.0


@dataclass(frozen=True)
class WriteProbe:
    error: Exception | None = None  # the store refused (its exception)
    lost: bool = False  # it took the write, then did not give it back

    @property
    def ok(self) -> bool:
        return self.error is None and not self.lost


async def probe_write(store: Store, ns: str) -> WriteProbe:
    """Write a fresh value under ``ns`` and read it back, then delete it: a probe
    leaves nothing behind (its own key, so concurrent probes of several instances
    never read each other's; a TTL in case the delete is lost)."""
    value = secrets.token_hex(8)
    key = f"write-probe:{value}"
    try:
        await store.set(ns, key, value.encode(), ttl=PROBE_TTL)
        back = await store.get(ns, key)
        await store.delete(ns, key)
    except Exception as exc:  # any failure of the store is the answer
        return WriteProbe(error=exc)
    return WriteProbe(lost=back != value.encode())


# How often a running instance asks its store for a write, in the background.
WRITE_CHECK_INTERVAL = 30.0
# How long one check waits for an answer (a store retrying a lost server).
WRITE_CHECK_TIMEOUT = 5.0


class WriteWatch:
    """Whether the store takes writes, asked every :data:`WRITE_CHECK_INTERVAL`
    seconds in the background. A store can answer reads and refuse writes (a
    full disk, a read-only PostgreSQL after a failover, a Redis that cannot
    persist): the settings page, ``status.json`` and the metrics read this
    instead of writing on every view (a page view writes nothing)."""

    def __init__(
        self,
        store: Store,
        ns: str,
        *,
        interval: float = WRITE_CHECK_INTERVAL,
        now: Callable[[], float] = time.time,
    ) -> None:
        self._store = store
        self._ns = ns
        self.interval = interval
        self._now = now
        self.refused: str | None = None  # why the last check failed; None: it passed
        self.checked_at: float | None = None  # None: not asked yet
        self._task: asyncio.Task[None] | None = None

    async def check(self, timeout: float = WRITE_CHECK_TIMEOUT) -> str | None:
        """Ask now: why the store refuses writes, or None when it takes them
        (within ``timeout`` seconds: a store that does not answer refuses)."""
        try:
            # asyncio.timeout, not wait_for: on Python 3.11 wait_for can swallow
            # a cancel that meets the probe's answer, and stop() waited forever.
            async with asyncio.timeout(timeout):
                probe = await probe_write(self._store, self._ns)
        except TimeoutError:
            probe = WriteProbe(TimeoutError(f"no answer within {timeout:g} s"))
        self.note(refusal(probe))
        return self.refused

    def note(self, refused: str | None) -> None:
        """Record an answer (readiness asks too, and tells this watch)."""
        if refused is not None and self.refused is None:
            log.error("the store refuses writes: %s", refused)
        elif refused is None and self.refused is not None:
            log.warning("the store takes writes again")
        self.refused, self.checked_at = refused, self._now()

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._loop(), name="write watch")

    async def _loop(self) -> None:
        while True:
            await self.check()
            await asyncio.sleep(self.interval)

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None


def refusal(probe: WriteProbe) -> str | None:
    """What a failed probe says, for a person; None when it passed."""
    if probe.ok:
        return None
    if probe.error is not None:
        return f"{type(probe.error).__name__}: {probe.error}"
    return "the store lost a write it had just taken"
