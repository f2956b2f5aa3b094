"""Rep replies to the contact, and Case closures to the session: fetch on notify.

The webhook is a doorbell (DESIGN.md, "The webhook contract"): it says only
"something happened on Case X". The notify job then reads the Case from
Salesforce with the plugin's own token, in ONE query (``queryAll``, so a deleted
or merged Case is still seen: :mod:`.ending`): the Case's IsClosed, Status,
IsDeleted and MasterRecordId, and as child subqueries the public CaseComments and
sent EmailMessages *changed* (SystemModstamp) since the Case's delivery cursor. A
draft sent later or a note made public later changes its SystemModstamp, so it is
read then, and the ledger delivers it once. A forged or replayed call therefore cannot put words
in a rep's mouth; at worst it costs one read.

Only public replies written by the support team reach the contact
(:mod:`.classify`). The plugin's integration user may well be a rep too, so who
wrote a comment is not enough: the Case index remembers the Ids of the comments
the plugin wrote.

They go to the session on the Case the contact is using (:mod:`.recipient`), in
the order they became replies (SystemModstamp, then Id), each exactly once
(:mod:`.ledger`). When the Case is closed, every session on it is resolved,
once, its last message noted; when it reopens, the index says so, and a handoff
of the conversation again puts the words written since on it.

Leading edge, then coalescing (issue #18). The first notification for a Case is
read at once: no debounce. The job's item id is ``notify:<Case Id>:<epoch>``,
where the epoch is a per-Case counter the job bumps (under the Case's lock)
*before* it reads, noting when the read began. A notification that arrives before
the bump joins the waiting job, whose read comes after it; one that arrives after
the bump (while the read is in flight) gets the next epoch: one new job, which
every further notification joins, so a burst costs at most one more read. That
next read starts as soon as the one in flight ends (it polls the Case's lock
every :data:`LOCK_POLL` seconds: store reads, no API call). An install that
wants a bound on what a stream of notifications with nothing new can cost sets
``reply_read_min_interval_seconds`` (0 by default): the next read then waits
until that long after the last one began, at most one read per Case per
interval (issue #16.10). (A bare ``notify:<Case Id>``
would drop a notification that arrives while the job runs: the queue refuses an
id it still holds.)
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

from opencx_salesforce.cases.index import CaseEntry, CaseIndex
from opencx_salesforce.cases.service import APPEND_KIND, HANDOFF_KIND
from opencx_salesforce.clock import SYSTEM_CLOCK, Clock
from opencx_salesforce.errors import LockBusy, RetryLater
from opencx_salesforce.hookspecs import Host
from opencx_salesforce.outbox.queue import Job, Outbox
from opencx_salesforce.replies.activity import Activity
from opencx_salesforce.replies.case_read import case_query, names_missing_email_message
from opencx_salesforce.replies.classify import (
    Item,
    Reply,
    children,
    comment_body,
    comment_item,
    email_item,
)
from opencx_salesforce.replies.ending import CaseEnding
from opencx_salesforce.replies.ledger import Claim, ReplyLedger
from opencx_salesforce.replies.recipient import recipient
from opencx_salesforce.replies.status import ReplyStatus
from opencx_salesforce.salesforce import datetimes
from opencx_salesforce.salesforce.client import SalesforceClient
from opencx_salesforce.salesforce.errors import ApiError
from opencx_salesforce.salesforce.ids import full_id
from opencx_salesforce.settings import SalesforceSettings
from opencx_salesforce.store.lock import store_lock

log = logging.getLogger(__name__)

NOTIFY_KIND = "notify"
# How long an open marker whose Case has no index entry is taken for a handoff
# still writing it (the marker goes first): far longer than those two writes,
# short enough that a creation that crashed between them costs little.
UNLINKED_MARKER_GRACE = 3600.0
# One worker reads and delivers a Case at a time, so replies arrive in order.
CASE_LOCK_TTL = 60.0
# How soon a notification that came during a read looks again for the Case's
# lock: a small part of a round trip, so the next read follows the last closely.
LOCK_POLL = 0.02
# A notification for a Case the index does not know waits while a handoff is
# still in the outbox (its Case may be that one), looking every
# UNKNOWN_CASE_POLL seconds, for at most UNKNOWN_CASE_WAIT (the store's
# measure of its age: a forged or foreign Id must not wait for ever on a busy
# outbox); with no handoff pending it is dropped at once.
UNKNOWN_CASE_WAIT = 3600.0
UNKNOWN_CASE_POLL = 5.0
HANDOFF_ITEM_PREFIX = f"{HANDOFF_KIND}:"

# --- the service -------------------------------------------------------------------


@dataclass
class Applied:
    delivered: int = 0
    resolved: int = 0
    moved: int = 0  # sessions moved to the Case this one was merged into
    more: bool = False  # a child list was cut at CHILD_LIMIT: read again


class ReplyService:
    def __init__(
        self,
        *,
        host: Host,
        client: SalesforceClient,
        settings: SalesforceSettings,
        index: CaseIndex,
        ledger: ReplyLedger,
        status: ReplyStatus,
        outbox: Outbox,
        clock: Clock = SYSTEM_CLOCK,
    ) -> None:
        self._host = host
        self._client = client
        self._settings = settings
        self._index = index
        self.ledger = ledger
        self.status = status
        self._outbox = outbox
        self._clock = clock
        # Webhooks, replies and the contact's messages keep the sweep hot.
        self.activity = Activity(host.store, clock=clock)
        self._open_hint: str | None = None  # an open Case seen by has_open_case
        # False once the org said it has no EmailMessage: reads leave emails out.
        self.emails_available = True
        self.ending = CaseEnding(
            host=host,
            client=client,
            index=index,
            ledger=ledger,
            status=status,
            case_from_value=settings.case_from_value,
            read_later=lambda case_id: self.ring(case_id, delay=0.0),
        )

    def register_jobs(self) -> None:
        """Register this area's job kinds on the outbox."""
        self._outbox.register(NOTIFY_KIND, self.handle_notify)

    @asynccontextmanager
    async def case_lock(self, case_id: str) -> AsyncIterator[None]:
        """Hold the Case for reading and delivering (one worker at a time, so
        replies arrive in order). Raises :class:`LockBusy` when another holds it."""
        async with store_lock(self._host.store, f"replies:{case_id}", CASE_LOCK_TTL):
            yield

    async def read_since(self, case_ids: Sequence[str]) -> str | None:
        """Where a read of ``case_ids`` together must start so that it misses
        none of their replies: the oldest cursor, or None (from the start) when
        one of them has never been read."""
        cursors = [await self.ledger.cursor(c) for c in case_ids]
        if not all(c.at for c in cursors):
            return None
        return min((str(c.at) for c in cursors), key=datetimes.parse)

    # --- the doorbell ----------------------------------------------------------------
    async def ring(self, case_id: str, *, delay: float | None = None) -> bool:
        """Queue a read of the Case: at once (leading edge; during a read in
        flight, the next read, which starts when that one ends), or, with
        ``reply_read_min_interval_seconds`` set, no sooner than that long after
        the last read began. False when it joined a read already waiting."""
        case_id = full_id(case_id)
        state = await self.ledger.notify_state(case_id)
        now = self._clock.time()
        if delay is None:
            delay = 0.0
            if state.read_at is not None:
                spacing = self._settings.reply_read_min_interval_seconds
                delay = max(0.0, min(spacing, state.read_at + spacing - now))
        return bool(
            await self._outbox.submit(
                NOTIFY_KIND,
                f"notify:{case_id}:{state.epoch}",
                {"case_id": case_id, "rung_at": now},
                delay=delay,
            )
        )

    async def handle_notify(self, job: Job) -> None:
        case_id = str(job.payload["case_id"])
        if not await self.knows_case(case_id):
            # The package rings only for the plugin's Cases, so a Case the
            # index lacks may be one whose handoff has not linked it yet: a
            # rep can reply as soon as the Case exists, and a handoff cut off
            # by a crash links it only when its retry runs (two minutes later).
            # Skipped at once, that reply was never read. It waits while that
            # can still happen: a handoff's job leaves the outbox only once its
            # Case is linked (no API call: store reads).
            waited = job.age >= UNKNOWN_CASE_WAIT  # the store's measure
            if not waited and await self._handoff_pending():
                raise RetryLater("no handoff has linked this Case yet", UNKNOWN_CASE_POLL)
            # Not a Case this install made (or a forged Id): nothing to read,
            # and no API call spent finding that out.
            self.status.skipped_records["unknown case"] += 1
            return
        try:
            async with self.case_lock(case_id):
                await self.ledger.bump_epoch(case_id)
                cursor = await self.ledger.cursor(case_id)
                cases, _ = await self.read_cases([case_id], cursor.at)
                self.status.notifications_read += 1
                if not cases:
                    # Not even queryAll sees it: purged from the Recycle Bin, or
                    # hidden from the plugin's user. Not proof of a deletion.
                    log.warning("Case %s is not readable by the plugin's user", case_id)
                    self.status.skipped_records["case not readable"] += 1
                    return
                applied = await self.apply(cases[0], by_sweep=False)
        except LockBusy:
            raise RetryLater("another worker is reading this Case", delay=LOCK_POLL) from None
        if applied.more:
            raise RetryLater("more replies than one read returns", delay=0.0)

    async def _handoff_pending(self) -> bool:
        """Whether any handoff is still in the outbox (its Case may be the one
        rung). Read only for a notification of a Case the index lacks: rare."""
        return bool(await self._outbox.pending(HANDOFF_ITEM_PREFIX))

    async def knows_case(self, case_id: str) -> bool:
        """Whether this install made the Case (the index has it)."""
        return await self._index.case(case_id) is not None

    async def has_open_case(self) -> bool:
        """Whether the plugin knows an open Case (else a sweep has nothing to look
        for). Costs no API call and does not grow with the Cases closed: the list
        of open Cases (:mod:`~opencx_salesforce.cases.open_cases`) and their
        entries; the open Case found last is asked first, so the usual answer
        is one store read, and two calls when none is open.

        A marker whose Case is closed (its removal lost in a crash) or never
        reached the index is cleared here, so it costs one sweep at most; the
        answer errs on "open" whenever that cannot be done now."""
        if self._open_hint is not None:
            entry = await self._index.case(self._open_hint)
            if entry is not None and not entry.closed:
                return True
            self._open_hint = None
        marked = await self._index.marked_open()
        if not marked:
            return False
        entries = await self._index.cases(marked)
        for case_id, entry in entries.items():
            if not entry.closed:
                self._open_hint = case_id
                return True
        stale = [await self._clear_stale(case_id, case_id in entries) for case_id in marked]
        return not all(stale)

    async def _clear_stale(self, case_id: str, indexed: bool) -> bool:
        """Remove the open marker of a Case that is not open; False if it may
        be open after all (or another worker has it: asked again next sweep)."""
        if not indexed:  # unless a handoff is writing its entry now
            return await self._index.open.unmark_if_older(case_id, UNLINKED_MARKER_GRACE)
        try:
            # Under the Case's lock, which a reopening holds from its marker to
            # its entry: the entry read here is not one about to say open.
            async with self.case_lock(case_id):
                entry = await self._index.case(case_id)
                if entry is None or not entry.closed:
                    return False
                await self._index.open.unmark(case_id)
                return True
        except LockBusy:
            return False

    # --- reading -----------------------------------------------------------------------
    async def read_cases(
        self, case_ids: Sequence[str], since: str | None
    ) -> tuple[list[dict[str, Any]], int]:
        """The Cases with their replies since ``since``, and the API calls it took:
        one query, plus one per further page when Salesforce splits a large
        answer (never for a single Case)."""
        records: list[dict[str, Any]] = []
        calls = 0
        query = case_query(case_ids, since, emails=self.emails_available)
        try:
            async for page in self._client.query_all_pages(query, include_deleted=True):
                calls += 1
                records.extend(page.get("records") or [])
        except ApiError as exc:
            self.status.api_calls += calls + 1
            if not (self.emails_available and names_missing_email_message(exc)):
                raise
            self.note_no_email_message()
            records, more = await self.read_cases(case_ids, since)
            return records, calls + 1 + more
        self.status.api_calls += calls
        return records, calls

    def note_no_email_message(self) -> None:
        """The org has no EmailMessage: from now on only comments are read."""
        if self.emails_available:
            log.warning(
                "this org has no EmailMessage (no Email-to-Case or Enhanced Email): "
                "reading Case comments only; generate the package with --no-email"
            )
        self.emails_available = False

    # --- applying what was read ---------------------------------------------------------
    async def apply(self, case: Mapping[str, Any], *, by_sweep: bool) -> Applied:
        """Deliver the Case's new replies and act on its closed state. The caller
        holds the Case's lock."""
        case_id = str(case["Id"])
        entry = await self._index.case(case_id)
        applied = Applied()
        if entry is None:
            return applied
        if case.get("IsDeleted"):
            master = case.get("MasterRecordId")
            if master:
                moved = await self.ending.follow_merge(case_id, entry, full_id(master))
                applied.moved, applied.resolved = max(moved, 0), max(-moved, 0)
            else:
                applied.resolved = await self.ending.follow_deletion(case_id, entry)
            await self._note_stamp(case)
            return applied
        comments, more_comments = children(case, "CaseComments")
        emails, more_emails = children(case, "EmailMessages")
        applied.more = more_comments or more_emails
        items = [await self._comment(r) for r in comments] + [email_item(r) for r in emails]
        items.sort(key=lambda i: (datetimes.parse(i.stamp), i.record_id))

        start = await self.ledger.cursor(case_id)
        cursor = start
        try:
            for item in items:
                if not start.is_behind(item.stamp, item.record_id):
                    continue
                if item.reply is None:
                    self.status.skipped_records[item.skip_reason or "not a reply"] += 1
                elif await self._deliver(entry, item.reply, by_sweep, item.stamp):
                    applied.delivered += 1
                cursor = cursor.after(item.stamp, item.record_id)
        finally:
            if cursor != start:
                await self.ledger.advance(case_id, cursor)
        await self._note_stamp(case)
        if not applied.more:
            applied.resolved = await self._follow_closure(
                case_id, entry, bool(case.get("IsClosed"))
            )
        return applied

    async def _note_stamp(self, case: Mapping[str, Any]) -> None:
        # The sweep need not read the Case again for a change this read saw.
        if case.get("SystemModstamp"):
            await self.ledger.note_case_stamp(str(case["Id"]), str(case["SystemModstamp"]))

    async def _comment(self, record: Mapping[str, Any]) -> Item:
        # The index is asked only about published comments (internal notes are
        # skipped whoever wrote them).
        own = record.get("IsPublished") is not False and await self._index.is_own_comment(
            str(record["Id"]), comment_body(record)
        )
        return comment_item(record, own=own)

    async def _deliver(self, entry: CaseEntry, reply: Reply, by_sweep: bool, stamp: str) -> bool:
        if not entry.sessions:
            self.status.skipped_records["no session on the Case"] += 1
            return False
        session_id = await recipient(self._host, entry.sessions)
        if session_id is None:
            self.status.skipped_records["session gone from the host"] += 1
            return False
        claim = await self.ledger.claim(reply.record_id)
        if claim.claim is Claim.DONE:
            self.status.skipped_records["already delivered"] += 1
            return False
        if claim.claim is Claim.BUSY:
            # Only after the Case lock expired under a slow worker: let it finish,
            # and keep the order by not delivering anything after it.
            raise RetryLater(f"{reply.record_id} is being delivered by another worker", 1.0)
        try:
            await self._host.deliver_agent_message(
                session_id, reply.text, author=reply.author, external_id=reply.record_id
            )
        except BaseException:
            await self.ledger.release(reply.record_id, claim.token)
            raise
        if not await self.ledger.mark_delivered(reply.record_id, claim.token):
            log.warning("reply %s: claim taken over while delivering it", reply.record_id)
        now = self._clock.time()
        await self.activity.note()
        self.status.deliveries += 1
        self.status.delivered_by_sweep += 1 if by_sweep else 0
        self.status.last_delivery_at = now
        # From when it became a reply (a draft sent, a note made public).
        self.status.note_delivery_latency(max(0.0, now - datetimes.parse(stamp).timestamp()))
        return True

    async def _follow_closure(self, case_id: str, entry: CaseEntry, is_closed: bool) -> int:
        """Resolve the sessions of a Case that closed, once; note a reopening.

        The sessions to resolve are written down before the index flips to
        closed, so a crash between the flip and the last resolve finishes on the
        next read instead of leaving a session open forever."""
        if not is_closed:
            if entry.closed:
                await self._index.mark_closed(case_id, False)
            await self.ledger.clear_pending_resolution(case_id)
            return 0
        if not entry.closed:
            await self.ledger.set_pending_resolution(case_id, list(entry.sessions))
            await self._index.mark_closed(case_id)
        pending = await self.ledger.pending_resolution(case_id)
        resolved = 0
        for session_id in pending:
            if await self._wrote_after(session_id, case_id):
                continue
            # Where its words stood: if a rep reopens the Case and the bot hands
            # the conversation off again, the words after are what it lacks.
            session = await self._host.get_session(session_id)
            last = session.messages[-1].id if session is not None and session.messages else None
            await self._index.mark_resolved_from(session_id, case_id, last)
            await self._host.resolve_session(session_id)
            resolved += 1
        if pending:
            self.status.sessions_resolved += resolved
            log.info("Case %s closed: resolved %d session(s)", case_id, resolved)
            await self.ledger.clear_pending_resolution(case_id)
        return resolved

    async def _wrote_after(self, session_id: str, case_id: str) -> bool:
        """Whether the contact has words the closed Case does not hold: an append
        still queued or running (it finds the Case closed and takes them to a
        follow-up Case), the session already moved to that follow-up Case, or
        handed back to the bot with them (``after_closure``). Such a session is
        not resolved over its unread words (issue #15.1)."""
        ref = await self._index.session_case(session_id)
        if ref is not None and ref.case_id != case_id:
            return True
        if await self._outbox.pending(f"{APPEND_KIND}:{session_id}:"):
            return True
        return await self._index.handed_back_from(session_id) == case_id
