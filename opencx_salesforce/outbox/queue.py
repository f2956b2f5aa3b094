"""The durable queue of outgoing work, and the workers that do it.

Every piece of work that talks to Salesforce (create a Case, append to one) is
first written to a queue in the host store, then done by a worker. A worker that
crashes loses nothing: its lease runs out and another worker takes the item.
Salesforce being down, rate limited or a token expiring delays an item; it is
retried with exponential backoff and full jitter (a random delay between zero and
the capped exponential, so a crowd of retries spreads out), honouring
``Retry-After`` when Salesforce gives one: an announced outage holds the work, and
one probe at a time finds out early when the org is back (:class:`.policy.OutageGate`).
An item that keeps failing for longer than ``dead_letter_after`` seconds, or
fails in a way retrying cannot fix, is buried: kept, shown to the admin with its
error, and retried on request. Which failures are worth a retry is
:mod:`.policy`'s call.

Each area registers the job kinds it handles (:meth:`Outbox.register`); a job's
payload is JSON, and only the outbox reads its envelope (:meth:`Outbox.pending`).

Workers are woken by the store when work arrives (``Store.wait``), not by
polling on a timer; a job wakes one idle worker, not all of them. A job
submitted while this process has a free slot skips the wake and the lease: it
is written already leased to this process and starts at once
(:meth:`Outbox.submit`).

Time: when a job is due and how old it is are the store's to measure (delays
in, :attr:`Lease.age` out), so instances whose clocks disagree still agree on
both; this instance's clock only times its own waits.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import json
import logging
import random
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from opencx_salesforce.clock import SYSTEM_CLOCK, Clock
from opencx_salesforce.errors import PermanentFailure, RetryLater
from opencx_salesforce.logs import log_context
from opencx_salesforce.outbox.policy import OutageGate, RetryHint, retry_hint, waits_for_admin
from opencx_salesforce.outbox.store_trouble import StoreTrouble
from opencx_salesforce.store.base import ItemState, Lease, LeasingEnqueue, QueueItem, Store

log = logging.getLogger(__name__)

# A worker the store failed looks again after 1 s, then 2, 4 … up to 30 s.
_STORE_PAUSE_MIN = 1.0
_STORE_PAUSE_MAX = 30.0


@dataclass(frozen=True)
class Job:
    kind: str
    item_id: str
    payload: Mapping[str, Any]
    attempts: int  # this one included
    enqueued_at: float  # as the submitting instance's clock read it: for display
    # seconds since the job was queued (or revived), on the store's clock, when
    # this attempt leased it: what the give-up windows are measured with
    age: float = 0.0

    @property
    def is_retry(self) -> bool:
        """A previous attempt may have reached Salesforce before it failed."""
        return self.attempts > 1


Handler = Callable[[Job], Awaitable[None]]


class Submitted(enum.Enum):
    """What :meth:`Outbox.submit` did with a job: true when it was persisted."""

    STARTED_HERE = "started here"  # leased to this process and begun
    QUEUED = "queued"  # for any worker
    ALREADY_QUEUED = "already queued"  # an item with its id exists: nothing written

    def __bool__(self) -> bool:
        return self is not Submitted.ALREADY_QUEUED


@dataclass
class OutboxSettings:
    backoff_base: float = 1.0
    backoff_cap: float = 300.0
    dead_letter_after: float = 86400.0
    # Longer than any single attempt can take (the HTTP client's total timeout
    # is far below it), so a slow but alive worker is never doubled.
    visibility_timeout: float = 120.0
    concurrency: int = 4
    idle_wait: float = 5.0


@dataclass
class OutboxStats:
    done: int = 0
    retried: int = 0
    buried: int = 0
    last_error: str | None = None
    last_error_at: float | None = None
    errors_by_kind: dict[str, int] = field(default_factory=dict)
    # (kind, outcome) for /metrics; outcome: submitted, done, retried, waiting, dead.
    outcomes: Counter[tuple[str, str]] = field(default_factory=Counter)


@dataclass(frozen=True)
class EncodedJSON:
    """A payload value already encoded as JSON (a session's own fast encoding):
    written into the job as it is, not escaped as a string, and read back as
    the value it encodes."""

    encoded: bytes


def _encode(kind: str, payload: Mapping[str, Any], enqueued_at: float) -> bytes:
    """The stored job: compact JSON, an :class:`EncodedJSON` value spliced in as it is."""
    members = [
        _compact(key) + b":" + (v.encoded if isinstance(v, EncodedJSON) else _compact(v))
        for key, v in payload.items()
    ]
    return b"".join(
        (
            b'{"kind":',
            _compact(kind),
            b',"payload":{',
            b",".join(members),
            b'},"enqueued_at":',
            _compact(enqueued_at),
            b"}",
        )
    )


# json.dumps with separators builds an encoder each call: one kept (the same text).
_COMPACT = json.JSONEncoder(separators=(",", ":"))


def _compact(value: Any) -> bytes:
    return _COMPACT.encode(value).encode()


class _AsSubmitted(Mapping[str, Any]):
    """A payload as submitted, read as a worker would read it from the stored
    job: an :class:`EncodedJSON` value is decoded when first read (once), so a
    handler that does not read it costs nothing."""

    def __init__(self, payload: Mapping[str, Any]) -> None:
        self._payload = dict(payload)  # as it was when submitted
        self._decoded: dict[str, Any] = {}

    def __getitem__(self, key: str) -> Any:
        value = self._payload[key]
        if not isinstance(value, EncodedJSON):
            return value
        if key not in self._decoded:
            self._decoded[key] = json.loads(value.encoded)
        return self._decoded[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._payload)

    def __len__(self) -> int:
        return len(self._payload)


def job_kind(item: QueueItem) -> str:
    """The kind of a queued job, for a status page ("?" when unreadable). Only
    the kind: the payload holds the conversation itself."""
    try:
        envelope = json.loads(item.payload)
    except ValueError:
        return "?"
    return str(envelope.get("kind", "?")) if isinstance(envelope, dict) else "?"


def _decode(item_id: str, raw: bytes, attempts: int, age: float = 0.0) -> Job:
    envelope = json.loads(raw)
    return Job(
        envelope["kind"], item_id, envelope["payload"], attempts, envelope["enqueued_at"], age
    )


class Outbox:
    """A queue of jobs in the store and the workers that do them.

    ``clock`` times this instance's own pauses; it never decides when a job is
    due or how old it is (the store does, on its clock)."""

    def __init__(
        self,
        store: Store,
        *,
        queue: str,
        handlers: Mapping[str, Handler] | None = None,
        retry_hint: RetryHint = retry_hint,
        settings: OutboxSettings | None = None,
        rng: random.Random | None = None,
        clock: Clock = SYSTEM_CLOCK,
    ) -> None:
        self._store = store
        self._queue = queue
        self._handlers = dict(handlers or {})
        self._retry_hint = retry_hint
        self.settings = settings or OutboxSettings()
        self._rng = rng or random.Random()
        self._clock = clock
        self._tasks: list[asyncio.Task[None]] = []
        self._stopping = asyncio.Event()
        self._store_trouble = StoreTrouble(clock.monotonic)
        # Leases taken and not yet settled, by item id: what a stop gives back.
        self._in_hand: dict[str, Lease] = {}
        self.stats = OutboxStats()
        self.gate = OutageGate()
        # Set when the gate opens (a request went through): wakes the workers
        # it held. A new event is made for the next outage.
        self._gate_opened = asyncio.Event()
        # The store's enqueue_leased, if it has one (asked once: a runtime
        # protocol check is not free on every submit).
        self._leasing = store if isinstance(store, LeasingEnqueue) else None
        self._slots: asyncio.Semaphore | None = None  # while started
        self._here: dict[str, asyncio.Task[None]] = {}  # jobs started where submitted

    def register(self, kind: str, handler: Handler) -> None:
        """Do jobs of ``kind`` with ``handler``. Each area registers its own."""
        if kind in self._handlers:
            raise ValueError(f"job kind {kind!r} is already registered")
        self._handlers[kind] = handler

    # --- producing --------------------------------------------------------------
    async def submit(
        self,
        kind: str,
        item_id: str,
        payload: Mapping[str, Any],
        *,
        delay: float = 0.0,
        run_here: bool = True,
    ) -> Submitted:
        """Persist a job. Idempotent on ``item_id``: :attr:`Submitted.ALREADY_QUEUED`
        (false) if it is already queued.

        A job due now, submitted while this outbox runs with a free slot, is
        written already leased to this process (``enqueue_leased``, when the
        store offers it) and started at once: one store write, no worker to wake
        and no lease to take (``run_here=False``: always queued for any worker).
        It is as durable as any queued job: if this process dies, its lease runs
        out and a worker anywhere takes it."""
        if kind not in self._handlers:
            raise ValueError(f"no handler for job kind {kind!r}")
        enqueued_at = self._clock.time()
        raw = _encode(kind, payload, enqueued_at)
        if run_here and delay == 0 and self.may_run_here():
            # The job as a worker would decode it, without decoding it.
            job = Job(kind, item_id, _AsSubmitted(payload), 1, enqueued_at)
            submitted = await self._submit_here(job, raw)
        else:
            queued = await self._store.enqueue(self._queue, item_id, raw, delay=delay)
            submitted = Submitted.QUEUED if queued else Submitted.ALREADY_QUEUED
        self.stats.outcomes[(kind, "submitted")] += bool(submitted)
        return submitted

    def may_run_here(self) -> bool:
        """Whether a job submitted now would start in this process (see
        :meth:`submit`). Not while an announced outage holds the work: the job
        waits in the queue like the rest."""
        return (
            self._slots is not None
            and not self._slots.locked()
            and not self._stopping.is_set()
            and self._leasing is not None
            and not self.gate.holding(self._clock.time())
        )

    def running_here(self, item_id: str) -> bool:
        """Whether ``item_id`` was started where it was submitted and is not done."""
        return item_id in self._here

    async def _submit_here(self, job: Job, raw: bytes) -> Submitted:
        item_id = job.item_id
        slots, store = self._slots, self._leasing
        assert slots is not None and store is not None
        await slots.acquire()  # free (may_run_here): taken without a pause
        try:
            lease = await store.enqueue_leased(
                self._queue, item_id, raw, visibility_timeout=self.settings.visibility_timeout
            )
        except BaseException:
            slots.release()
            raise
        if lease is None:
            slots.release()
            return Submitted.ALREADY_QUEUED
        if self._stopping.is_set():
            # A stop began while it was written: any worker takes it, not a
            # task started after the stop cancelled the others.
            slots.release()
            await store.retry_in(lease, 0.0, error=None)
            return Submitted.QUEUED
        self._in_hand[item_id] = lease
        self._here[item_id] = asyncio.create_task(self._run_here(lease, job, slots))
        return Submitted.STARTED_HERE

    async def _run_here(self, lease: Lease, job: Job, slots: asyncio.Semaphore) -> None:
        try:
            await self._do(lease, job)
        except asyncio.CancelledError:
            raise
        except Exception:  # a store error while settling the job: its lease runs out
            log.exception("outbox: store error settling %s; it runs again later", lease.item_id)
        finally:
            self._here.pop(lease.item_id, None)
            slots.release()

    # --- status -----------------------------------------------------------------
    async def items(self, state: ItemState | None = None) -> list[QueueItem]:
        return await self._store.items(self._queue, state)

    async def pending(self, prefix: str) -> list[Job]:
        """The jobs not dead-lettered whose item id starts with ``prefix``, decoded
        (``attempts`` as the store counts them so far)."""
        return [
            _decode(item.item_id, item.payload, item.attempts)
            for item in await self._store.items(self._queue)
            if item.item_id.startswith(prefix) and item.state is not ItemState.DEAD
        ]

    async def retry_dead(self, item_id: str | None = None) -> int:
        """Make dead items ready again (one, or all). Returns how many."""
        dead = await self._store.items(self._queue, ItemState.DEAD)
        count = 0
        for item in dead:
            if (item_id is None or item.item_id == item_id) and await self._store.revive(
                self._queue, item.item_id
            ):
                count += 1
        return count

    async def resume_after_reconnect(self) -> int:
        """An admin connected again: the jobs waiting for that (up to
        ``REAUTH_WAIT`` away) are due now. Returns how many."""
        return await resume_waiting_for_admin(self._store, self._queue)

    # --- working ----------------------------------------------------------------
    def start(self) -> None:
        self._stopping.clear()
        # A slot a job in progress, whoever started it: the workers' pool and
        # the jobs started where they were submitted share the ceiling.
        self._slots = asyncio.Semaphore(self.settings.concurrency)
        for n in range(self.settings.concurrency):
            self._tasks.append(asyncio.create_task(self._worker(), name=f"outbox-{n}"))

    def running_workers(self) -> int:
        """How many worker tasks are alive (0 once stopped)."""
        return sum(1 for task in self._tasks if not task.done())

    async def stop(self) -> None:
        self._stopping.set()
        tasks = [*self._tasks, *self._here.values()]
        # Until none is left: a job submitted as the stop began may start one
        # more (it sees the stop after its write, and gives itself back).
        while tasks:
            for task in tasks:
                task.cancel()
            for task in tasks:
                with contextlib.suppress(asyncio.CancelledError):
                    await task
            tasks = [task for task in self._here.values() if not task.done()]
        # The jobs stopped mid-way go back now, not when their lease runs out
        # (every rolling deploy held them two minutes). Each runs again as any
        # retried attempt does, reading first what an earlier one landed.
        while self._in_hand:
            _, lease = self._in_hand.popitem()
            with contextlib.suppress(Exception):  # the store away: the lease runs out
                await self._store.retry_in(lease, 0.0, error=None)
        self._tasks.clear()
        self._here.clear()
        self._slots = None

    async def run_until_idle(self, timeout: float = 30.0) -> None:
        """Work in the foreground until nothing is ready and no job started here
        is still running (tests and the CLI). ``timeout`` is real seconds: a
        guard against a job that never settles."""
        deadline = time.monotonic() + timeout
        while (left := deadline - time.monotonic()) > 0:
            if await self.work_once():
                continue
            if not self._here:
                return
            # What they leave (a retry due now) is looked at again after.
            await asyncio.wait(list(self._here.values()), timeout=left)
        raise TimeoutError("the outbox still had work after the timeout")

    async def work_once(self) -> bool:
        """Lease and do one ready job. False if none was ready, or an announced
        outage holds the work (:class:`.policy.OutageGate`)."""
        if self.gate.lease_wait(self._clock.time()) is not None:
            return False
        return await self._lease_and_do()

    async def _lease_and_do(self) -> bool:
        leases = await self._store.lease(
            self._queue, visibility_timeout=self.settings.visibility_timeout, limit=1
        )
        if not leases:
            return False
        self._in_hand[leases[0].item_id] = leases[0]
        await self._do(leases[0])
        return True

    async def _worker(self) -> None:
        slots = self._slots
        assert slots is not None
        pause = _STORE_PAUSE_MIN
        while not self._stopping.is_set():
            try:
                held = self.gate.lease_wait(self._clock.time())
                if held is not None:
                    await self._while_held(held)
                    continue
                async with slots:
                    worked = await self._lease_and_do()
                if not worked:
                    await self._store.wait(self._queue, self.settings.idle_wait)
                if pause != _STORE_PAUSE_MIN:
                    self._store_trouble.over()
                    pause = _STORE_PAUSE_MIN
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # a store hiccup must not kill the worker
                self._store_trouble.note(exc, pause)
                await self._clock.sleep(pause)
                # Every worker meets the same outage: they look again less and
                # less often (256 of them each second was the store's own load).
                pause = min(pause * 2, _STORE_PAUSE_MAX)

    async def _while_held(self, seconds: float) -> None:
        """Wait until the outage gate opens or ``seconds`` pass (the next probe,
        or the end of the announced wait), whichever comes first."""
        sleep = asyncio.ensure_future(self._clock.sleep(seconds))
        opened = asyncio.ensure_future(self._gate_opened.wait())
        try:
            await asyncio.wait((sleep, opened), return_when=asyncio.FIRST_COMPLETED)
        finally:
            sleep.cancel()
            opened.cancel()

    async def _gate_open(self) -> None:
        """A request went through while the gate was closed: wake the workers
        it held, and make due the jobs waiting out their own Retry-After."""
        told = self.gate.note_success()
        self._gate_opened.set()
        self._gate_opened = asyncio.Event()
        log.info("Salesforce answers again: the work held by its announced outage goes now")
        for item_id in told:
            try:
                await self._store.hurry(self._queue, item_id)
            except Exception as exc:  # it goes when its own Retry-After ends
                log.warning("outbox: could not make %s due now: %s", item_id, exc)

    async def _do(self, lease: Lease, job: Job | None = None) -> None:
        """Run the leased job (``job``: already known, begun where it was submitted)."""
        if job is None:
            job = _decode(lease.item_id, lease.payload, lease.attempts, lease.age)
        started = self._clock.monotonic()
        # Every record logged while the job runs names it (logs.JsonFormatter).
        ids = {k: job.payload.get(k) for k in ("session_id", "case_id")}
        with log_context(job_id=job.item_id, **{k: str(v) for k, v in ids.items() if v}):
            try:
                await self._handle(lease, job, started)
            except asyncio.CancelledError:
                raise  # still in hand: a graceful stop gives it back
            except BaseException:
                self._in_hand.pop(lease.item_id, None)
                raise
            self._in_hand.pop(lease.item_id, None)

    def _age(self, job: Job, started: float) -> float:
        """The job's age now: the store's measure at lease time, plus how long
        this attempt has run (monotonic, so no wall clock is involved)."""
        return job.age + (self._clock.monotonic() - started)

    async def _handle(self, lease: Lease, job: Job, started: float) -> None:
        handler = self._handlers.get(job.kind)
        if handler is None:
            await self._store.bury(lease, error=f"no handler for job kind {job.kind!r}")
            return
        try:
            await handler(job)
        except RetryLater as wait:
            age = self._age(job, started)
            if age >= self.settings.dead_letter_after:
                await self._bury(lease, job, f"still waiting after {age:.0f} s: {wait.reason}")
            else:
                await self._store.retry_in(lease, max(0.0, wait.delay), error=None)
                self.stats.outcomes[(job.kind, "waiting")] += 1
            return
        except PermanentFailure as exc:
            await self._bury(lease, job, str(exc))
            return
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            await self._failed(lease, job, exc, self._age(job, started))
            return
        await self._store.ack(lease)
        self.stats.done += 1
        self.stats.outcomes[(job.kind, "done")] += 1
        if self.gate.closed_until is not None:
            await self._gate_open()

    async def _failed(self, lease: Lease, job: Job, exc: Exception, age: float) -> None:
        message = f"{type(exc).__name__}: {exc}"
        retryable, retry_after = self._retry_hint(exc)
        self.stats.last_error, self.stats.last_error_at = message, self._clock.time()
        self.stats.errors_by_kind[job.kind] = self.stats.errors_by_kind.get(job.kind, 0) + 1
        if not retryable:
            await self._bury(lease, job, message)
            return
        if age >= self.settings.dead_letter_after:
            await self._bury(lease, job, f"still failing after {age:.0f} s: {message}")
            return
        delay = self.backoff(job.attempts)
        if retry_after is not None:
            delay = max(delay, retry_after)
        announced = self.gate.note_failure(job.item_id, exc, self._clock.time())
        if announced is not None:
            # It waits out its Retry-After in the queue, or until a request
            # finds the org back, whichever comes first (policy.OutageGate).
            delay = announced
        log.warning(
            "%s %s failed (attempt %d), retrying in %.1f s: %s",
            job.kind,
            job.item_id,
            job.attempts,
            delay,
            message,
        )
        self.stats.retried += 1
        self.stats.outcomes[(job.kind, "retried")] += 1
        await self._store.retry_in(lease, max(0.0, delay), error=message)

    async def _bury(self, lease: Lease, job: Job, message: str) -> None:
        log.error("%s %s moved to dead letter: %s", job.kind, job.item_id, message)
        self.stats.buried += 1
        self.stats.outcomes[(job.kind, "dead")] += 1
        await self._store.bury(lease, error=message)

    def backoff(self, attempts: int) -> float:
        """Full jitter: uniform in [0, min(cap, base * 2^(attempts-1))]."""
        ceiling = min(
            self.settings.backoff_cap, self.settings.backoff_base * 2 ** min(attempts - 1, 30)
        )
        return self._rng.uniform(0, ceiling)


def due_for(items: list[QueueItem], now: float) -> list[float]:
    """Seconds each ready item has been due with no worker taking it. An item
    due later (a retry's backoff, a live chat's queue timer) is scheduled, not
    waiting: counting it made a busy outbox look stuck (metrics, readiness)."""
    return [
        now - item.available_at
        for item in items
        if item.state is ItemState.READY and item.available_at <= now
    ]


async def resume_waiting_for_admin(store: Store, queue: str) -> int:
    """Make every job of ``queue`` that waits for an admin to reconnect due now
    (any process may call it: the settings page, the ``connect`` command)."""
    count = 0
    for item in await store.items(queue, ItemState.READY):
        if waits_for_admin(item.last_error) and await store.hurry(queue, item.item_id):
            count += 1
    if count:
        log.info("Salesforce connected again: %d waiting jobs resume now", count)
    return count
