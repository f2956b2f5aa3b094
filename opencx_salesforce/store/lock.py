"""A lock shared by every host instance on the store."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
from collections.abc import AsyncIterator, Coroutine
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

from opencx_salesforce.errors import LockBusy
from opencx_salesforce.store import namespaces
from opencx_salesforce.store.base import Store

LOCKS_NS = namespaces.LOCKS

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class LockClaim:
    """An attempt to take a lock, under way: started before the lock is needed,
    so its write can share a wait with others (a store's group commit), and
    then held with :func:`store_lock` (``claim=``) or given up with
    :meth:`abandon`."""

    store: Store
    name: str
    token: bytes
    taken: asyncio.Future[bool]  # whether the lock was free and is now ours

    @classmethod
    def start(cls, store: Store, name: str, ttl: float) -> LockClaim:
        token = secrets.token_hex(8).encode()
        taken = asyncio.ensure_future(store.set_if_absent(LOCKS_NS, name, token, ttl=ttl))
        return cls(store, name, token, taken)

    async def release(self) -> None:
        await self.store.compare_and_set(LOCKS_NS, self.name, self.token, None)

    async def abandon(self) -> None:
        """Not needed after all: released if it was taken (errors swallowed: a
        claim nobody holds runs out with its ttl)."""
        with contextlib.suppress(Exception):
            if await self.taken:
                await self.release()


@asynccontextmanager
async def store_lock(
    store: Store,
    name: str,
    ttl: float,
    *,
    claim: LockClaim | None = None,
    renew_every: float | None = None,
) -> AsyncIterator[None]:
    """Hold the lock ``name``. ``ttl`` (seconds, on the store's clock) bounds how
    long a crashed holder can block the others. Raises :class:`LockBusy` at once
    when held: callers reschedule rather than wait. ``claim``: the lock's
    :class:`LockClaim`, already started (by default it starts here).
    ``renew_every``: while held, the ttl starts again this often (seconds), so
    work of unknown length keeps a short ttl (a crashed holder blocks the
    others only that long) and still holds its lock to the end."""
    claim = claim or LockClaim.start(store, name, ttl)
    try:
        # Shielded: a holder cancelled here (a stop) leaves the claim's write to
        # land, as a store's write under way does (Redis, a SQLite batch), and
        # gives it up then; it used to be left taken, every other instance's
        # sweep or this contact's handoffs waiting out its ttl.
        taken = await asyncio.shield(claim.taken)
    except asyncio.CancelledError:
        _in_background(claim.abandon(), name)
        raise
    if not taken:
        raise LockBusy(name)
    keeper = None
    if renew_every is not None:
        keeper = asyncio.create_task(_renew(claim, ttl, renew_every), name=f"lock {name}")
    try:
        yield
    finally:
        if keeper is not None:
            keeper.cancel()
            # asyncio.wait: the keeper's own CancelledError is not raised here,
            # and this task's is (suppressing CancelledError around `await
            # keeper` swallowed a cancel of this task that came meanwhile: the
            # sweep, asked to stop, went on to its next wait and never ended).
            await asyncio.wait([keeper])
        try:
            await claim.release()
        except asyncio.CancelledError:
            # Cancelled while releasing (a stop): the release is made all the
            # same, in the background (awaited here only when not: no task a
            # lock on the handoff's path).
            _in_background(claim.release(), name)
            raise


# The releases that finish after their holder was cancelled: kept referenced
# until done (the event loop keeps only weak references to tasks).
_FINISHING: set[asyncio.Task[None]] = set()


def _in_background(work: Coroutine[Any, Any, None], name: str) -> asyncio.Task[None]:
    """``work`` as a task that runs to its end whoever waits for it."""
    task = asyncio.ensure_future(work)
    _FINISHING.add(task)

    def done(task: asyncio.Task[None]) -> None:
        _FINISHING.discard(task)
        if not task.cancelled() and (error := task.exception()) is not None:
            # Its holder may be gone: said here, once (the ttl frees the lock).
            log.warning("lock %s: could not release it: %s", name, error)

    task.add_done_callback(done)
    return task


async def _renew(claim: LockClaim, ttl: float, every: float) -> None:
    while True:
        await asyncio.sleep(every)
        try:
            held = await claim.store.compare_and_set(
                LOCKS_NS, claim.name, claim.token, claim.token, ttl=ttl
            )
        except Exception as exc:  # the store away a moment: the next try may do
            log.warning("lock %s: could not renew it: %s", claim.name, exc)
            continue
        if not held:
            log.warning("lock %s ran out while held (renewed too late)", claim.name)
            return
