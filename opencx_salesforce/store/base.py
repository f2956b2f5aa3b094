"""The store protocol: namespaced key/value with atomic operations, and a durable
queue the outbox builds on.

Every backend (memory, SQLite, PostgreSQL, Redis) keeps exactly these semantics; the
conformance suite, shipped as :mod:`opencx_salesforce.testing.store_conformance`
so that a host's own store can run it too, checks each rule below.

Key/value
    Values are ``bytes``. ``ttl`` is in seconds (> 0) and applies to the value
    being written (``None``: it never expires); an expired key reads as absent.
    ``set_if_absent`` and ``compare_and_set`` are atomic across every process
    sharing the backend, so two host instances racing on the same key get exactly
    one winner.

Queue
    ``enqueue`` is idempotent on ``item_id`` (the same id twice is one item).
    ``lease`` hands out ready items (due now) earliest due first and
    hides them for ``visibility_timeout`` seconds; an item whose lease runs out
    without ``ack`` becomes ready again (a crashed worker loses nothing). A lease
    carries a token: ``ack``, ``retry_in`` and ``bury`` only act while the lease
    is still the current one, so a worker that stalled past its timeout cannot
    undo the work of the worker that took over. A lease stays current until the
    item is leased again, acked, put back or buried: past its timeout it still
    acts if no other worker has taken the item. ``bury`` moves an item to the
    dead-letter state, where it stays until ``revive``.

The clock
    Every time that decides ownership (a key's expiry, a lease's deadline, when
    an item is due, an item's age) is measured on the *store's* clock: Redis's
    ``TIME`` inside the script, PostgreSQL's ``now()`` inside the statement; the
    single-host backends (memory, SQLite) use the process's clock, which every
    user of their data shares. Callers therefore pass *delays* (``delay`` in
    ``enqueue``, ``retry_in``), never absolute times, and read an item's age
    from :attr:`Lease.age`: two host instances whose clocks disagree by minutes
    still agree on who holds a lease and when work is due.

The rules in detail (each one a test of the conformance suite)
    * Values round-trip byte for byte (empty, NUL bytes, any of the 256).
    * Namespaces are separate, and a ``:`` in a namespace or key cannot make two
      pairs collide (``("x:y", "z")`` is not ``("x", "y:z")``).
    * ``keys`` lists live keys only, sorted by code point, filtered by a plain
      prefix.
    * ``set_many`` writes every pair as ``set`` would, all at once (an empty
      mapping writes nothing).
    * A ``ttl`` that is not a positive number raises ``ValueError`` (in ``set``,
      ``set_many``, ``set_if_absent`` and ``compare_and_set``) and writes nothing; a value
      written without a ``ttl`` lives until replaced, even if the value it
      replaced had one.
    * An expired key is absent for every operation: ``get`` reads ``None``,
      ``set_if_absent`` and ``compare_and_set(expected=None)`` may write it,
      ``compare_and_set`` with its old value fails, ``delete`` returns False.
    * ``compare_and_set(key, None, None)`` writes nothing and returns whether the
      key is absent; with ``new=None`` and a matching value it deletes.
    * Racing callers (separate store objects, as separate instances) get exactly
      one winner of ``set_if_absent`` and ``compare_and_set``, and lose no
      increment of a CAS loop; concurrent workers lease each item exactly once.
    * ``lease`` raises ``ValueError`` for a ``visibility_timeout`` that is not
      positive or a ``limit`` below 1; it hands out due items earliest due
      first, each with a distinct token, counts ``attempts`` per lease and
      reports the item's ``age`` (seconds since it was enqueued or revived, on
      the store's clock).
    * ``enqueue`` and ``retry_in`` take a ``delay`` in seconds (>= 0; a negative
      one raises ``ValueError`` and writes nothing), measured on the store's
      clock from the moment the store does the write.
    * An item id stays taken while the item exists in any state (ready, leased,
      dead); ``ack`` frees it.
    * A stale lease (its item leased again since) cannot ``ack``, ``retry_in`` or
      ``bury``; neither can a lease whose token, queue or item id was altered.
    * ``retry_in`` keeps the previous ``last_error`` when ``error`` is None;
      ``bury`` records when the item was buried as its ``available_at``;
      ``revive`` acts only on dead items, keeps ``attempts`` and starts the
      item's clock anew: its ``enqueued_at`` (and the ``age`` its next lease
      reports) count from the revival, so a give-up window starts over.
    * ``hurry`` makes a ready item that is not due yet due now, and acts on
      nothing else (a due, leased, dead or unknown item: False).
    * ``items`` lists oldest ``enqueued_at`` first and shows a leased item whose
      lease ran out as ready.
    * ``wait`` returns at once when an item is ready; otherwise it returns when
      one is enqueued, put back (``retry_in``), revived or hurried, through this store
      object or another sharing the data, when a retry comes due, when a lease
      runs out, or after ``timeout`` seconds, whichever is first.
    * A durable backend (SQLite, PostgreSQL, Redis) keeps keys, TTLs, items and
      current leases across closing the store and opening another.

Optional: ``get_many`` (:class:`ReadsMany`)
    A store may also read several keys of a namespace in one call (one
    statement, one round trip): a handoff's job reads three index entries
    before it can send, and on a database each read is a statement. The Case
    service uses it when the store has it (all four of ours do) and reads one
    key at a time without it. Its rules (tested when a store offers it):

    * it returns the live keys among those asked, each with the value ``get``
      would read; absent and expired keys are left out; a key asked twice is
      answered once; no keys asked, an empty mapping;
    * each value is one that ``get`` could have read during the call (no
      snapshot across keys is promised).

Optional: ``enqueue_leased`` (:class:`LeasingEnqueue`)
    A store may also offer to add an item already leased to the caller, in one
    atomic write: the process that queues work it can start at once saves the
    lease's write and the wait for a worker to wake. The outbox uses it when the
    store has it (all four of ours do) and works without it. Its rules (tested
    when a store offers it):

    * it returns a :class:`Lease` (``attempts`` 1, a fresh token) and writes an
      item that shows as leased, hidden for ``visibility_timeout`` seconds on
      the store's clock; None, writing nothing, if the id is taken (any state);
    * the lease acts as one from ``lease`` does: ``ack``, ``retry_in`` and
      ``bury`` while current; once it runs out ``lease`` hands the item out
      again (attempt 2) and the first lease is stale;
    * it wakes no waiter (nothing is ready): a wait begun afterwards returns
      when the lease runs out, one already asleep learns of it within its
      ``timeout``; a ``visibility_timeout`` that is not positive raises
      ``ValueError``.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping, Sequence
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
    # seconds since the item was enqueued (or revived), on the store's clock,
    # when it was leased: what a give-up window is measured with
    age: float = 0.0


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

    async def set_many(
        self, ns: str, values: Mapping[str, bytes], *, ttl: float | None = None
    ) -> None:
        """``set`` of every pair, all at once: one write (one round trip, one
        commit), atomic (no reader sees some of the pairs without the others,
        a failure writes none of them), each pair with ``ttl``."""
        ...

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
        self, queue: str, item_id: str, payload: bytes, *, delay: float = 0.0
    ) -> bool:
        """Add an item, due ``delay`` seconds from now on the store's clock. False
        if an item with this id is already in the queue (in any state)."""
        ...

    async def lease(self, queue: str, *, visibility_timeout: float, limit: int = 1) -> list[Lease]:
        """Take up to ``limit`` due items, earliest due first; each stays hidden
        for ``visibility_timeout`` seconds on the store's clock."""
        ...

    async def ack(self, lease: Lease) -> bool:
        """The work is done: remove the item. False if the lease is stale."""
        ...

    async def retry_in(self, lease: Lease, delay: float, *, error: str | None = None) -> bool:
        """Put the item back, due ``delay`` seconds from now on the store's
        clock. ``error`` becomes the item's ``last_error`` (``None`` keeps the
        previous one). False if stale."""
        ...

    async def bury(self, lease: Lease, *, error: str) -> bool:
        """Move the item to the dead-letter state. False if stale."""
        ...

    async def revive(self, queue: str, item_id: str) -> bool:
        """Make a dead item ready now (attempts kept, its clock started anew:
        ``enqueued_at`` becomes now). False if not dead."""
        ...

    async def hurry(self, queue: str, item_id: str) -> bool:
        """Make a ready item that waits for a later time due now (attempts, last
        error and age kept) and wake a waiter: what the plugin does to work that
        waited for something that has just happened (an admin reconnecting).
        False if the item was not waiting (due already, leased, dead, absent)."""
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


@runtime_checkable
class ReadsMany(Protocol):
    """Optional for a store: several keys of a namespace read in one call (the
    rules are in this module's docstring)."""

    async def get_many(self, ns: str, keys: Sequence[str]) -> dict[str, bytes]:
        """The live values of ``keys`` in ``ns`` (absent and expired keys left
        out)."""
        ...


@runtime_checkable
class LeasingEnqueue(Protocol):
    """Optional for a store: an item added already leased to the caller (the
    rules are in this module's docstring)."""

    async def enqueue_leased(
        self, queue: str, item_id: str, payload: bytes, *, visibility_timeout: float
    ) -> Lease | None:
        """Add the item and lease it to the caller, in one atomic write. None if
        an item with this id is already in the queue (in any state)."""
        ...
