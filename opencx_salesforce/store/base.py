"""The store protocol: namespaced key/value with atomic operations, and a durable
queue the outbox builds on.

Every backend (memory, SQLite, PostgreSQL, Redis) keeps exactly these semantics; the
conformance suite in ``tests/store/`` runs unchanged against each of them.

Key/value
    Values are ``bytes``. ``ttl`` is in seconds (> 0) and applies to the value
    being written (``None``: it never expires); an expired key reads as absent.
    ``set_if_absent`` and ``compare_and_set`` are atomic across every process
    sharing the backend, so two host instances racing on the same key get exactly
    one winner.

Queue
    ``enqueue`` is idempotent on ``item_id`` (the same id twice is one item).
    ``lease`` hands out ready items (``available_at <= now``) oldest first and
    hides them for ``visibility_timeout`` seconds; an item whose lease runs out
    without ``ack`` becomes ready again (a crashed worker loses nothing). A lease
    carries a token: ``ack``, ``retry_at`` and ``bury`` only act while the lease
    is still the current one, so a worker that stalled past its timeout cannot
    undo the work of the worker that took over. A lease stays current until the
    item is leased again, acked, put back or buried: past its timeout it still
    acts if no other worker has taken the item. ``bury`` moves an item to the
    dead-letter state, where it stays until ``revive``.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Protocol, runtime_checkable


class ItemState(enum.StrEnum):
    READY = "ready"  # waiting for its available_at, or ready now (also: its lease ran out)
    LEASED = "leased"  # a worker holds it
    DEAD = "dead"  # buried: needs a human (or ``revive``)


@dataclass(frozen=True, slots=True)
class Lease:
    """A queue item handed to one worker."""

    queue: str
    item_id: str
    payload: bytes
    attempts: int  # how many times it has been leased, this one included
    token: str  # identifies this lease; stale leases cannot ack


@dataclass(frozen=True, slots=True)
class QueueItem:
    """A queue item as seen from outside (status pages, the CLI)."""

    item_id: str
    payload: bytes
    state: ItemState
    attempts: int
    # unix seconds: when it is (or was) ready; for a leased item, when the lease
    # runs out; for a dead item, when it was buried
    available_at: float
    enqueued_at: float
    last_error: str | None


@runtime_checkable
class Store(Protocol):
    # --- key/value -------------------------------------------------------------
    async def get(self, ns: str, key: str) -> bytes | None: ...

    async def set(self, ns: str, key: str, value: bytes, *, ttl: float | None = None) -> None: ...

    async def set_if_absent(
        self, ns: str, key: str, value: bytes, *, ttl: float | None = None
    ) -> bool:
        """Store ``value`` only if ``key`` is absent (or expired). True if stored."""
        ...

    async def compare_and_set(
        self,
        ns: str,
        key: str,
        expected: bytes | None,
        new: bytes | None,
        *,
        ttl: float | None = None,
    ) -> bool:
        """Atomically replace the value if it equals ``expected`` (``None``: the
        key must be absent). ``new=None`` deletes. True if it acted (the value
        matched ``expected``)."""
        ...

    async def delete(self, ns: str, key: str) -> bool:
        """True if a (live) key was deleted."""
        ...

    async def keys(self, ns: str, prefix: str = "") -> list[str]:
        """Live keys of ``ns`` starting with ``prefix``, sorted."""
        ...

    # --- queue -----------------------------------------------------------------
    async def enqueue(
        self, queue: str, item_id: str, payload: bytes, *, available_at: float | None = None
    ) -> bool:
        """Add an item, ready at ``available_at`` (default now). False if an item
        with this id is already in the queue (in any state)."""
        ...

    async def lease(self, queue: str, *, visibility_timeout: float, limit: int = 1) -> list[Lease]:
        """Take up to ``limit`` ready items, oldest ``available_at`` first."""
        ...

    async def ack(self, lease: Lease) -> bool:
        """The work is done: remove the item. False if the lease is stale."""
        ...

    async def retry_at(
        self, lease: Lease, available_at: float, *, error: str | None = None
    ) -> bool:
        """Put the item back, ready at ``available_at``. ``error`` becomes the
        item's ``last_error`` (``None`` keeps the previous one). False if stale."""
        ...

    async def bury(self, lease: Lease, *, error: str) -> bool:
        """Move the item to the dead-letter state. False if stale."""
        ...

    async def revive(self, queue: str, item_id: str) -> bool:
        """Make a dead item ready now (attempts kept). False if not dead."""
        ...

    async def items(self, queue: str, state: ItemState | None = None) -> list[QueueItem]:
        """Every item of ``queue`` (optionally of one state), oldest first."""
        ...

    async def wait(self, queue: str, timeout: float) -> None:
        """Return when an item may have become ready in ``queue`` (something was
        enqueued or put back, here or in another process) or after ``timeout``
        seconds, whichever comes first. Workers use it to be woken rather than
        to poll; a spurious wake-up is allowed, a missed one is bounded by
        ``timeout``."""
        ...

    async def close(self) -> None: ...
