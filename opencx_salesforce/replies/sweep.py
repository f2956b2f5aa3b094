"""The reconciliation sweep: what the webhooks missed, found by reading.

Apex callouts are not retried by the platform [src: SALESFORCE.md §7, "Callouts
are NOT retried automatically"]; the generated package retries a failed one for
about 18 minutes, but a doorbell may never be sent (the org's async limits) and
the host may be down longer. So a
background task reads, every ``sweep_interval_seconds``, what changed on the
plugin's Cases since its last look, and hands it to the same code the webhook's
notify job runs (:meth:`ReplyService.apply`), so a reply is delivered once and a
closure resolved once whichever of the two sees it first.

What changed is found with SystemModstamp, not LastModifiedDate: SystemModstamp
moves whenever a user *or an automated process* (a trigger, a workflow) changes
the record [src: api system_fields.htm], it is what Salesforce's own replication
call uses [src: api_rest resources_getupdated.htm "uses the SystemModstamp field
to determine an object's add or change date"], and it is one of the standard
indexed fields, so the filter stays selective on a large org
[src: salesforce-large-data-volumes-bp, Standard and Custom Indexed Fields].

Three streams are read, each ``ORDER BY SystemModstamp, Id`` in batches with
LIMIT: the plugin's Cases (``Case_From__c``, with ``queryAll`` so that a Case
deleted or merged away is seen too: :mod:`.ending`), and the public CaseComments
and sent EmailMessages on them (a draft sent later, a note made public later
move their SystemModstamp, so they show up then). The child objects are read on their own because
the docs do not say that inserting a CaseComment or an EmailMessage touches the
parent Case's SystemModstamp (the CaseComment and EmailMessage references list
each object's own system fields and nothing about the parent), and the emulator,
following the docs, does not touch it: a sweep that looked at Cases only would
miss every reply whose webhook was lost.

The cursor lives in the store, so a restart goes on where the last sweep
stopped. Each stream re-reads a short overlap behind the newest change it saw
(a transaction's rows become visible at commit, possibly after a later-stamped
row), and remembers the rows it already handled in that overlap, so a quiet org
costs one API call per sweep: its three small queries travel in one composite
request. Only one host instance sweeps at a time (a
lock in the store), and the instances take turns: one whose wait ends after
another has swept lets its turn pass (:mod:`.sweep_turns`), so N instances cost
what one does. Cost is bounded (``max_calls`` per sweep; the rest waits for
the next sweep) and reported in :class:`~opencx_salesforce.replies.status.SweepReport`.

What it costs when there is nothing to find (issue #18):

* **No open Case, no call.** While the plugin knows no open Case (the Case
  index), a sweep makes no API call: nothing it could find concerns a session.
* **A change a webhook read already handled is not read again.** A discovered
  comment or email behind its Case's reply cursor, or a Case row whose
  SystemModstamp the last read of it already saw (or that was never touched after
  the plugin created it), costs no Case read. A sweep of a healthy org is one call.
* **Rarest while the package's digest arrives.** The org lists the changes on
  the plugin's Cases every minute itself, at no API call (:mod:`.digest`); the
  sweep then runs every ``sweep_digest_interval_seconds`` (1800 s: 48 calls a
  day) as the last resort.
* **Without the digest: prompt while a conversation is in progress, rare when
  quiet.** Every ``sweep_interval_seconds`` (60 s) while anything happened on the
  plugin's Cases in the last ``sweep_hot_seconds`` or the webhooks are not known
  to be healthy, else every ``sweep_healthy_interval_seconds`` (300 s: 288 calls
  a day): :mod:`.sweep_schedule`.

Where that leaves a lost webhook: with the digest, its reply arrives with the
next digest, within about a minute, wherever it is. Without it, within
``sweep_interval_seconds`` (plus the sweep's two round trips) when the Case, or
any of the plugin's Cases, saw activity in the last ``sweep_hot_seconds``, or
once a loss has been seen; within ``sweep_healthy_interval_seconds`` when it is
the first event on an install quiet for longer than that (docs/design.md, "What
the sweep costs per day").
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import math
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from opencx_salesforce.clock import SYSTEM_CLOCK, Clock
from opencx_salesforce.errors import LockBusy, RetryLater
from opencx_salesforce.replies.case_read import names_missing_email_message
from opencx_salesforce.replies.digest import DigestInbox
from opencx_salesforce.replies.ledger import NS
from opencx_salesforce.replies.seen import already_read
from opencx_salesforce.replies.service import ReplyService
from opencx_salesforce.replies.status import ReplyStatus, SweepReport
from opencx_salesforce.replies.sweep_schedule import SweepSchedule, found_nothing
from opencx_salesforce.replies.sweep_streams import STREAMS, CaseStream, Stream, StreamState, later
from opencx_salesforce.replies.sweep_turns import LastSweep, SweepTurns
from opencx_salesforce.salesforce import datetimes, subrequests
from opencx_salesforce.salesforce.client import SalesforceClient
from opencx_salesforce.salesforce.errors import ApiError, NotConnectedYet
from opencx_salesforce.salesforce.ids import full_id
from opencx_salesforce.settings import SalesforceSettings
from opencx_salesforce.store.base import Store
from opencx_salesforce.store.lock import store_lock

log = logging.getLogger(__name__)

STATE_KEY = "sweep:state"
LOCK_NAME = "replies.sweep"
# How long a crashed sweeper's lock blocks the others: renewed every
# SWEEP_LOCK_RENEW seconds while a sweep runs, however long. (600 s, never
# renewed, held a killed host's sweeps, its start sweep included, for ten
# minutes.)
SWEEP_LOCK_TTL = 60.0
SWEEP_LOCK_RENEW = 20.0
BATCH = 200  # rows per discovery query
MAX_BATCH = 2000  # a query page's most [src: api_rest dome_query.htm]
CASES_PER_READ = BATCH  # Cases per full read (Id IN (...) with the child subqueries)
# The first sweep of a new install looks back this far.
FIRST_LOOKBACK = timedelta(days=1)
DEFAULT_MAX_CALLS = 50


def _chunks(items: Sequence[str], size: int) -> Iterator[Sequence[str]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


@dataclass
class _Tally:
    calls: int = 0
    records: int = 0
    cases: int = 0
    delivered: int = 0
    resolved: int = 0
    moved: int = 0


class Sweeper:
    def __init__(
        self,
        *,
        store: Store,
        client: SalesforceClient,
        settings: SalesforceSettings,
        replies: ReplyService,
        status: ReplyStatus,
        max_calls: int = DEFAULT_MAX_CALLS,
        clock: Clock = SYSTEM_CLOCK,
    ) -> None:
        self._store = store
        self._clock = clock
        self._client = client
        self._settings = settings
        self._replies = replies
        self._status = status
        self.max_calls = max_calls
        self._task: asyncio.Task[None] | None = None
        self.digests = DigestInbox(store, replies, clock=clock)
        self.turns = SweepTurns(store)
        # The start of the last sweep this instance ran or let its turn pass
        # to, as the last pass found it (None: unknown, e.g. the lock was busy).
        self._turn: float | None = None
        self.schedule = SweepSchedule(
            settings=settings,
            status=status,
            activity=replies.activity,
            digests=self.digests,
            clock=clock,
        )

    # --- the background task ----------------------------------------------------------
    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._loop(), name="salesforce-sweep")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _loop(self) -> None:
        # The first sweep runs at start, whoever swept last: it catches what
        # happened while the host was down (replies and closures whose webhook
        # found nobody).
        after: float | None = None
        while True:
            self._turn = None
            await self._sweep_and_log(after)
            now = self._clock.time()
            # Another instance's clock ahead of this one: counted from now.
            after = now if self._turn is None else min(self._turn, now)
            await self.schedule.wait_after(after)

    async def _sweep_and_log(self, after: float | None = None) -> None:
        try:
            await self.run_once(after=after)
        except asyncio.CancelledError:
            raise
        except NotConnectedYet:  # a fresh install: nothing to sweep, nothing to warn
            self._status.sweeps_not_connected += 1
        except Exception as exc:
            self._status.sweeps_failed += 1
            self._status.last_sweep_error = f"{type(exc).__name__}: {exc}"
            log.warning("reconciliation sweep failed: %s", self._status.last_sweep_error)

    # --- one sweep ---------------------------------------------------------------------
    async def run_once(self, *, after: float | None = None) -> SweepReport | None:
        """Sweep now. None if another instance is sweeping, or, given ``after``
        (when the last sweep this instance knows of started), if one has swept
        since: that turn was taken (:mod:`.sweep_turns`)."""
        try:
            async with store_lock(
                self._store, LOCK_NAME, SWEEP_LOCK_TTL, renew_every=SWEEP_LOCK_RENEW
            ):
                last = await self.turns.last() if after is not None else None
                if last is not None and last.started_at != after:
                    self._turn = last.started_at
                    self.schedule.adopt(last.found_nothing)
                    self._status.sweeps_skipped += 1
                    return None
                report = await self._recorded_sweep()
        except LockBusy:
            self._status.sweeps_skipped += 1
            return None
        self._status.sweeps += 1
        self._status.last_sweep = report
        self._status.last_sweep_error = None
        return report

    async def _recorded_sweep(self) -> SweepReport:
        """A sweep, recorded for the other instances (under the lock), failed
        or not: the next turn counts from its start."""
        started = self._clock.time()
        self._turn = started
        self.schedule.adopt(None)  # judged by its own report
        report: SweepReport | None = None
        try:
            report = await self._sweep()
            return report
        finally:
            await self.turns.record(LastSweep(started, found_nothing(report, None)))

    async def _sweep(self) -> SweepReport:
        started = self._clock.time()
        if not await self._replies.has_open_case():
            return SweepReport(
                started_at=started,
                finished_at=self._clock.time(),
                api_calls=0,
                records_seen=0,
                cases_checked=0,
                delivered=0,
                resolved=0,
                caught_up=True,
                lag_seconds=0.0,
                idle=True,
            )
        states = await self._load()
        tally = _Tally()
        limits = {s.name: BATCH for s in STREAMS}
        pending = {s.name for s in STREAMS}
        newest: str | None = None
        # Each round: one discovery query per stream, then one read of every Case
        # they touched (a Case touched by several streams is read once). A
        # discovery only runs if the budget still covers it and the reads it
        # may add (a page of LIMIT rows names at most LIMIT Cases).
        while pending:
            touched: set[str] = set()
            # This round's discoveries travel together in one composite request
            # (one API call; a composite takes up to 5 queries). A stream joins
            # only if the budget still covers the call and the Case reads its
            # page may add (a page of LIMIT rows names at most LIMIT Cases).
            chosen: list[Stream] = []
            for stream in STREAMS:
                if stream.sobject == "EmailMessage" and not self._replies.emails_available:
                    pending.discard(stream.name)
                if stream.name not in pending:
                    continue
                rows_at_most = sum(limits[s.name] for s in chosen) + limits[stream.name]
                reads = math.ceil(rows_at_most / CASES_PER_READ)
                if self.max_calls - tally.calls >= 1 + reads:
                    chosen.append(stream)
            discovered = bool(chosen)
            pages = await self._discover(chosen, states, limits, tally) if chosen else {}
            for stream in chosen:
                limit = limits[stream.name]
                state = states[stream.name]
                rows = pages[stream.name]
                fresh = 0
                for row in rows:
                    key, stamp = str(row["Id"])[:15], str(row["SystemModstamp"])
                    if state.seen.get(key) != stamp:
                        if row.get(stream.case_field) and not await self._handled(stream, row):
                            touched.add(full_id(str(row[stream.case_field])))
                        state.seen[key] = stamp
                        fresh += 1
                if len(rows) < limit:
                    pending.discard(stream.name)
                elif not fresh:
                    # A whole page inside one second, all handled: read wider.
                    if limit >= MAX_BATCH:
                        log.warning("sweep: over %d %s in one second", MAX_BATCH, stream.name)
                        pending.discard(stream.name)
                    limits[stream.name] = min(MAX_BATCH, limit * 4)
                if rows:
                    last = str(rows[-1]["SystemModstamp"])
                    state.saw(last)
                    newest = last if newest is None or later(last, newest) else newest
            if not discovered:
                break  # the budget is spent: the next sweep goes on from here
            await self._reconcile(sorted(touched), tally)
            # Saved only once what was discovered has been handled: a crash before
            # this point discovers it again.
            await self._save(states)
        caught_up = not pending
        now = self._clock.time()
        lag = 0.0
        if not caught_up and newest is not None:
            lag = max(0.0, now - datetimes.parse(newest).timestamp())
        return SweepReport(
            started_at=started,
            finished_at=now,
            api_calls=tally.calls,
            records_seen=tally.records,
            cases_checked=tally.cases,
            delivered=tally.delivered,
            resolved=tally.resolved,
            caught_up=caught_up,
            lag_seconds=lag,
            moved=tally.moved,
        )

    async def _handled(self, stream: Stream, row: Mapping[str, Any]) -> bool:
        """Whether a read of the Case already saw this change (a webhook's read,
        or it was never changed after the plugin created it): no read needed."""
        stamp = str(row["SystemModstamp"])
        if stream.case_field == "Id" and row.get("CreatedDate") == stamp:
            return True
        case_id = str(row[stream.case_field])
        return await already_read(self._replies.ledger, case_id, str(row["Id"]), stamp)

    async def _discover(
        self,
        streams: Sequence[Stream],
        states: Mapping[str, StreamState],
        limits: Mapping[str, int],
        tally: _Tally,
    ) -> dict[str, list[dict[str, Any]]]:
        """Each stream's page of changes, all in one composite request.
        [src: api_rest resources_composite_composite_post.htm: up to 25
        subrequests, 5 of them queries, counted as one call]"""
        case_from = self._settings.case_from_value
        queries = [
            subrequests.query(
                stream.query(case_from, states[stream.name].since, limits[stream.name]),
                ref=f"ref_{stream.name}",
                include_deleted=isinstance(stream, CaseStream),
            )
            for stream in streams
        ]
        answers = await self._client.composite(queries, all_or_none=False)
        tally.calls += 1
        self._status.api_calls += 1
        pages: dict[str, list[dict[str, Any]]] = {}
        for stream, answer in zip(streams, answers, strict=True):
            error = answer.error(f"sweep query {stream.name}")
            if isinstance(error, ApiError) and names_missing_email_message(error):
                self._replies.note_no_email_message()  # this stream is left out now
                pages[stream.name] = []
                continue
            if error is not None:
                raise error
            rows = list(answer.body.get("records") or [])
            tally.records += len(rows)
            pages[stream.name] = rows
        return pages

    async def _reconcile(self, case_ids: Sequence[str], tally: _Tally) -> None:
        """Read the touched Cases in full (with their replies) and apply them."""
        replies = self._replies
        # Another install writing the same Case_From__c value: not ours, not read.
        known = [c for c in case_ids if await replies.knows_case(c)]
        for batch in _chunks(known, CASES_PER_READ):
            cases, calls = await replies.read_cases(batch, await replies.read_since(batch))
            tally.calls += calls
            tally.cases += len(cases)
            for case in cases:
                tally.records += 1 + sum(
                    len((case.get(rel) or {}).get("records") or [])
                    for rel in ("CaseComments", "EmailMessages")
                )
                await self._apply(case, tally)

    async def _apply(self, case: Mapping[str, Any], tally: _Tally) -> None:
        case_id = str(case["Id"])
        try:
            async with self._replies.case_lock(case_id):
                applied = await self._replies.apply(case, by_sweep=True)
        except (LockBusy, RetryLater):
            # A notify job has the Case (or a reply is mid-delivery): make sure a
            # read comes after it rather than wait here.
            await self._replies.ring(case_id, delay=0.0)
            return
        tally.delivered += applied.delivered
        tally.resolved += applied.resolved
        tally.moved += applied.moved
        if applied.more:
            await self._replies.ring(case_id, delay=0.0)

    # --- the cursor in the store ---------------------------------------------------------
    async def _load(self) -> dict[str, StreamState]:
        raw = await self._store.get(NS, STATE_KEY)
        data: dict[str, Any] = json.loads(raw) if raw else {}
        first = datetimes.api_format(
            datetime.fromtimestamp(self._clock.time(), UTC) - FIRST_LOOKBACK
        )
        states = {}
        for stream in STREAMS:
            saved = data.get(stream.name) or {}
            states[stream.name] = StreamState(
                newest=str(saved.get("newest") or first), seen=dict(saved.get("seen") or {})
            )
        return states

    async def _save(self, states: Mapping[str, StreamState]) -> None:
        out = {name: state.to_json() for name, state in states.items()}
        await self._store.set(NS, STATE_KEY, json.dumps(out, sort_keys=True).encode())
