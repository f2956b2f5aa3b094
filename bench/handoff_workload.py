"""What every contender is asked to do, and how it is timed.

The same conversations (same texts, lengths and speakers) go to the plugin and to
the baselines. A measurement is a closed loop: ``concurrency`` clients each hand
off one conversation, wait until its Case exists with the whole transcript and
its Id is stored, and take the next, until the time budget is spent (a client
never starts a handoff after the budget, but at least ``min_handoffs`` are done
so that even a handoff that takes seconds is measured).
"""

from __future__ import annotations

import asyncio
import resource
import statistics
import threading
import time
from collections.abc import Awaitable, Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Generic, TypeVar

from opencx_salesforce.devhost.collector import SERVING_THRESHOLD
from opencx_salesforce.models import Contact, Message, Role, Session

T = TypeVar("T")

# Customer and bot lines of a support chat: a few words to a long paragraph.
_LINES = (
    "Hi, my order has not arrived yet.",
    "I'm sorry to hear that. Could you give me the order number, please?",
    "It's 4471-2290. It was supposed to come last Tuesday and the tracking page has "
    "said 'in transit' for six days now.",
    "Thanks. I can see the parcel left our warehouse on the 3rd. The carrier has not "
    "scanned it since it reached their regional depot, which usually means it is "
    "waiting for a van or was mis-sorted. I can open an investigation with the "
    "carrier, which takes two to three working days, or send a replacement today.",
    "A replacement would be better, I need it for the weekend.",
    "Understood. Is the delivery address still 12 Harbour Street, flat 3?",
    "Yes.",
    "One more thing: last time the courier left it outside in the rain and the box was "
    "soaked. Can you ask them to hand it to a person or leave it with the neighbour at "
    "number 14? I work from home on Fridays but not on Thursdays.",
)

# The transcript sizes and round trips every figure is given for.
MESSAGE_COUNTS = (5, 20, 100, 200)
LATENCIES_MS = (0.0, 50.0)
CONCURRENCIES = (1, 10, 100)


def transcript(number: int, count: int) -> list[Message]:
    """The ``count`` messages of conversation ``number``, contact and bot in turn."""
    start = datetime(2026, 11, 25, 9, 0, tzinfo=UTC)
    return [
        Message(
            id=f"m{number}-{m}",
            role=Role.CONTACT if m % 2 == 0 else Role.BOT,
            text=_LINES[(number + m) % len(_LINES)],
            created_at=start + timedelta(seconds=20 * m),
        )
        for m in range(count)
    ]


def conversation(number: int, count: int, run: str = "") -> Session:
    """A whole conversation, its contact new to the org (so the plugin looks the
    contact up, as it does the first time it meets someone)."""
    return Session(
        id=f"s{run}{number}",
        topic=f"Order {number} missing",
        summary="The customer's parcel did not arrive; a replacement was offered.",
        contact=Contact(name=f"Customer {number}", email=f"bench{run}{number}@example.com"),
        messages=transcript(number, count),
    )


def comment_body(message: Message) -> str:
    """What a hand-written integration puts in one CaseComment per message."""
    who = "Customer" if message.role == Role.CONTACT else "AI assistant"
    return f"{who} · {message.created_at:%Y-%m-%d %H:%M:%S} UTC\n{message.text}"


COLLECTION_MAX = 200  # sObject Collections: up to 200 records per request


def comment_collections(case_id: str, session: Session) -> list[dict[str, Any]]:
    """The competent baselines' request bodies: the Case's comments for
    ``POST /composite/sobjects``, 200 records a body, all or none."""
    records = [
        {
            "attributes": {"type": "CaseComment"},
            "ParentId": case_id,
            "CommentBody": comment_body(message),
            "IsPublished": False,
        }
        for message in session.messages
    ]
    return [
        {"allOrNone": True, "records": records[start : start + COLLECTION_MAX]}
        for start in range(0, len(records), COLLECTION_MAX)
    ]


def case_fields(session: Session) -> dict[str, Any]:
    """The Case a hand-written integration creates: the same visible fields the
    plugin sets (Subject, Description, Origin, Case_From__c)."""
    return {
        "Subject": session.topic,
        "Description": session.summary,
        "Origin": "Web",
        "Case_From__c": "opencx",
    }


# --- one measurement ----------------------------------------------------------------------


@dataclass(frozen=True)
class CellSpec:
    contender: str
    latency_ms: float
    messages: int
    concurrency: int
    budget_seconds: float
    max_handoffs: int
    min_handoffs: int = 3
    outbox_workers: int | None = None  # plugin only; None: its default
    # Every contender's process, once set up, settles Python's collector as the
    # reference host's `serve` does (devhost/collector.py); 0: CPython's defaults.
    gc_threshold: int = SERVING_THRESHOLD

    def label(self) -> str:
        workers = f", {self.outbox_workers} outbox workers" if self.outbox_workers else ""
        collector = "" if self.gc_threshold else ", Python's default gc"
        return (
            f"{self.contender} {self.latency_ms:.0f} ms, {self.messages} messages, "
            f"{self.concurrency} concurrent{workers}{collector}"
        )


@dataclass
class CellResult:
    spec: CellSpec
    handoffs: int
    api_calls: int
    calls_by_endpoint: dict[str, int]
    latencies_ms: list[float]
    elapsed_seconds: float
    peak_rss_mb: float
    # Peak RSS once set up (libraries loaded, conversations made), before the loop.
    setup_rss_mb: float = 0.0
    # CPU time during the timed loop: this process's, and the emulator's (the
    # server work the contender's way of calling costs Salesforce).
    client_cpu_seconds: float = 0.0
    server_cpu_seconds: float = 0.0
    errors: int = 0
    notes: list[str] = field(default_factory=list)

    @property
    def calls_per_handoff(self) -> float:
        return self.api_calls / self.handoffs if self.handoffs else float("nan")

    @property
    def client_cpu_ms_per_handoff(self) -> float:
        return 1000 * self.client_cpu_seconds / self.handoffs if self.handoffs else float("nan")

    @property
    def server_cpu_ms_per_handoff(self) -> float:
        return 1000 * self.server_cpu_seconds / self.handoffs if self.handoffs else float("nan")

    @property
    def per_second(self) -> float:
        return self.handoffs / self.elapsed_seconds if self.elapsed_seconds else float("nan")

    def p(self, q: float) -> float:
        return percentile(self.latencies_ms, q)

    def to_json(self) -> dict[str, Any]:
        data = {**asdict(self), "spec": asdict(self.spec)}
        data["latencies_ms"] = [round(v, 2) for v in self.latencies_ms]  # µs noise out
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> CellResult:
        values = dict(data)
        # A record from before the field: measured with CPython's default collector.
        values["spec"] = CellSpec(**{"gc_threshold": 0, **values["spec"]})
        return cls(**values)


def percentile(values: Sequence[float], q: float) -> float:
    """The nearest-rank percentile (``q`` in 0..1); NaN for no values."""
    if not values:
        return float("nan")
    if q == 0.5:
        return float(statistics.median(values))
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))
    return ordered[index]


def peak_rss_mb() -> float:
    """This process's peak resident set size (``resource.getrusage``; KiB on Linux)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


class Dispenser(Generic[T]):
    """Hands out work to the clients of a closed loop until the budget is spent
    (thread-safe: the sync baseline's clients are threads)."""

    def __init__(self, items: Sequence[T], budget_seconds: float, min_items: int) -> None:
        self._items = list(items)
        self._next = 0
        self._lock = threading.Lock()
        self._min = min(min_items, len(self._items))
        self._deadline = 0.0
        self.budget_seconds = budget_seconds

    def start(self) -> None:
        self._deadline = time.perf_counter() + self.budget_seconds

    def take(self) -> T | None:
        with self._lock:
            if self._next >= len(self._items):
                return None
            if self._next >= self._min and time.perf_counter() >= self._deadline:
                return None
            item = self._items[self._next]
            self._next += 1
            return item

    @property
    def handed_out(self) -> int:
        return self._next


@dataclass
class LoopOutcome:
    latencies_ms: list[float]
    elapsed_seconds: float
    cpu_seconds: float  # this process's, during the loop
    errors: int
    first_error: str | None


async def closed_loop_async(
    work: Dispenser[T], concurrency: int, handoff: Callable[[T], Awaitable[None]]
) -> LoopOutcome:
    latencies: list[float] = []
    errors: list[str] = []

    async def client() -> None:
        while (item := work.take()) is not None:
            started = time.perf_counter()
            try:
                await handoff(item)
            except Exception as exc:
                errors.append(f"{type(exc).__name__}: {exc}")
                continue
            latencies.append((time.perf_counter() - started) * 1000)

    work.start()
    started, cpu = time.perf_counter(), time.process_time()
    await asyncio.gather(*[client() for _ in range(concurrency)])
    elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu
    return LoopOutcome(latencies, elapsed, cpu, len(errors), errors[0] if errors else None)


def closed_loop_threads(
    work: Dispenser[T], concurrency: int, handoff: Callable[[T], None]
) -> LoopOutcome:
    latencies: list[float] = []
    errors: list[str] = []
    lock = threading.Lock()

    def client() -> None:
        while (item := work.take()) is not None:
            started = time.perf_counter()
            try:
                handoff(item)
            except Exception as exc:
                with lock:
                    errors.append(f"{type(exc).__name__}: {exc}")
                continue
            took = (time.perf_counter() - started) * 1000
            with lock:
                latencies.append(took)

    work.start()
    started, cpu = time.perf_counter(), time.process_time()
    with ThreadPoolExecutor(max_workers=concurrency) as pool:
        for future in [pool.submit(client) for _ in range(concurrency)]:
            future.result()
    elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu
    return LoopOutcome(latencies, elapsed, cpu, len(errors), errors[0] if errors else None)


def cell_result(
    spec: CellSpec,
    outcome: LoopOutcome,
    calls_before: dict[str, int],
    calls_after: dict[str, int],
    *,
    setup_rss_mb: float,
    server_cpu_seconds: float,
) -> CellResult:
    """A measurement from the loop's outcome and the emulator's counts around it."""
    by_endpoint = {k: calls_after.get(k, 0) - calls_before.get(k, 0) for k in calls_after}
    by_endpoint = {k: v for k, v in by_endpoint.items() if v}
    return CellResult(
        spec=spec,
        handoffs=len(outcome.latencies_ms),
        api_calls=sum(by_endpoint.values()),
        calls_by_endpoint=by_endpoint,
        latencies_ms=outcome.latencies_ms,
        elapsed_seconds=outcome.elapsed_seconds,
        peak_rss_mb=peak_rss_mb(),
        setup_rss_mb=setup_rss_mb,
        client_cpu_seconds=outcome.cpu_seconds,
        server_cpu_seconds=server_cpu_seconds,
        errors=outcome.errors,
        notes=[f"first error: {outcome.first_error}"] if outcome.first_error else [],
    )
