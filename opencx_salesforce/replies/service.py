"""Rep replies to the contact, and Case closures to the session: fetch on notify.

The webhook is a doorbell (DESIGN.md, "The webhook contract"): it says only
"something happened on Case X". The notify job then reads the Case from
Salesforce with the plugin's own token, in ONE query: the Case's IsClosed and
Status, and as child subqueries the CaseComments and EmailMessages written since
the Case's delivery cursor. A forged or replayed call therefore cannot put words
in a rep's mouth; at worst it costs one read.

Only public replies written by the support team reach the contact
(:mod:`.classify`). The plugin's integration user may well be a rep too, so who
wrote a comment is not enough: the Case index remembers the Ids of the comments
the plugin wrote.

They go to the contact's most recent session on the Case, in the order they were
written (CreatedDate, then Id), each exactly once (:mod:`.reply_ledger`). When the
Case is closed, every session on it is resolved, once; when it reopens, the index
says so, so the contact's next message goes to the same Case again.

Coalescing. Notifications for one Case that arrive together become one job and
one read: the job's item id is ``notify:<Case Id>:<epoch>``, where the epoch is a
per-Case counter the job bumps (under the Case's lock) *before* it reads. A
notification that arrives before the bump joins the waiting job, whose read comes
after it; one that arrives after the bump gets the next epoch, a new job, and so
a read after it. (A bare ``notify:<Case Id>`` would drop a notification that
arrives while the job runs: the queue refuses an id it still holds.)
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

from opencx_salesforce.cases.index import CaseEntry, CaseIndex
from opencx_salesforce.clock import SYSTEM_CLOCK, Clock
from opencx_salesforce.errors import LockBusy, RetryLater
from opencx_salesforce.hookspecs import Host
from opencx_salesforce.outbox.queue import Job, Outbox
from opencx_salesforce.replies.classify import (
    CHILD_LIMIT,
    Item,
    Reply,
    children,
    comment_body,
    comment_item,
    email_item,
)
from opencx_salesforce.replies.ledger import Claim, ReplyLedger
from opencx_salesforce.replies.status import ReplyStatus
from opencx_salesforce.salesforce import datetimes, soql
from opencx_salesforce.salesforce.client import SalesforceClient
from opencx_salesforce.salesforce.ids import full_id
from opencx_salesforce.settings import SalesforceSettings
from opencx_salesforce.store.lock import store_lock

log = logging.getLogger(__name__)

NOTIFY_KIND = "notify"
# Notifications for one Case rarely come alone (a rep replies and sets a status in
# one save: a CaseComment insert and a Case update, two callouts). A short wait
# lets them share one read.
NOTIFY_DEBOUNCE_SECONDS = 0.25
# One worker reads and delivers a Case at a time, so replies arrive in order.
CASE_LOCK_TTL = 60.0

COMMENT_FIELDS = (
    "Id, IsPublished, CommentBody, CreatedDate, CreatedById, CreatedBy.Name, CreatedBy.UserType"
)
EMAIL_FIELDS = (
    "Id, Incoming, Status, FromName, TextBody, CreatedDate, CreatedById, "
    "CreatedBy.Name, CreatedBy.UserType"
)


def case_query(case_ids: Sequence[str], since: str | None) -> str:
    """The one read per notification: the Cases' state and their replies from
    ``since`` (CreatedDate, inclusive) on, oldest first."""
    after = f" AND CreatedDate >= {datetimes.soql_literal(since)}" if since else ""
    order = f"ORDER BY CreatedDate, Id LIMIT {CHILD_LIMIT}"
    return (
        "SELECT Id, IsClosed, Status, "
        f"(SELECT {COMMENT_FIELDS} FROM CaseComments WHERE IsPublished = true{after} {order}), "
        f"(SELECT {EMAIL_FIELDS} FROM EmailMessages WHERE Incoming = false{after} {order}) "
        f"FROM Case WHERE Id IN {soql.id_list(list(case_ids))}"
    )


# --- the service -------------------------------------------------------------------


@dataclass
class Applied:
    delivered: int = 0
    resolved: int = 0
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
    async def ring(self, case_id: str, *, delay: float = NOTIFY_DEBOUNCE_SECONDS) -> bool:
        """Queue a read of the Case. False when it joined a read already waiting."""
        case_id = full_id(case_id)
        epoch = await self.ledger.epoch(case_id)
        return await self._outbox.submit(
            NOTIFY_KIND,
            f"notify:{case_id}:{epoch}",
            {"case_id": case_id, "rung_at": self._clock.time()},
            delay=delay,
        )

    async def handle_notify(self, job: Job) -> None:
        case_id = str(job.payload["case_id"])
        if not await self.knows_case(case_id):
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
                    log.info("Case %s is not readable any more (deleted?)", case_id)
                    return
                applied = await self.apply(cases[0], by_sweep=False)
        except LockBusy:
            raise RetryLater("another worker is reading this Case", delay=0.3) from None
        if applied.more:
            raise RetryLater("more replies than one read returns", delay=0.0)

    async def knows_case(self, case_id: str) -> bool:
        """Whether this install made the Case (the index has it)."""
        return await self._index.case(case_id) is not None

    # --- reading -----------------------------------------------------------------------
    async def read_cases(
        self, case_ids: Sequence[str], since: str | None
    ) -> tuple[list[dict[str, Any]], int]:
        """The Cases with their replies since ``since``, and the API calls it took:
        one query, plus one per further page when Salesforce splits a large
        answer (never for a single Case)."""
        records: list[dict[str, Any]] = []
        calls = 0
        async for page in self._client.query_all_pages(case_query(case_ids, since)):
            calls += 1
            records.extend(page.get("records") or [])
        self.status.api_calls += calls
        return records, calls

    # --- applying what was read ---------------------------------------------------------
    async def apply(self, case: Mapping[str, Any], *, by_sweep: bool) -> Applied:
        """Deliver the Case's new replies and act on its closed state. The caller
        holds the Case's lock."""
        case_id = str(case["Id"])
        entry = await self._index.case(case_id)
        applied = Applied()
        if entry is None:
            return applied
        comments, more_comments = children(case, "CaseComments")
        emails, more_emails = children(case, "EmailMessages")
        applied.more = more_comments or more_emails
        items = [await self._comment(r) for r in comments] + [email_item(r) for r in emails]
        items.sort(key=lambda i: (datetimes.parse(i.created), i.record_id))

        start = await self.ledger.cursor(case_id)
        cursor = start
        try:
            for item in items:
                if not start.is_behind(item.created, item.record_id):
                    continue
                if item.reply is None:
                    self.status.skipped_records[item.skip_reason or "not a reply"] += 1
                elif await self._deliver(entry, item.reply, by_sweep):
                    applied.delivered += 1
                cursor = cursor.after(item.created, item.record_id)
        finally:
            if cursor != start:
                await self.ledger.advance(case_id, cursor)
        if not applied.more:
            applied.resolved = await self._follow_closure(
                case_id, entry, bool(case.get("IsClosed"))
            )
        return applied

    async def _comment(self, record: Mapping[str, Any]) -> Item:
        # The index is asked only about published comments (internal notes are
        # skipped whoever wrote them).
        own = record.get("IsPublished") is not False and await self._index.is_own_comment(
            str(record["Id"]), comment_body(record)
        )
        return comment_item(record, own=own)

    async def _deliver(self, entry: CaseEntry, reply: Reply, by_sweep: bool) -> bool:
        if not entry.sessions:
            self.status.skipped_records["no session on the Case"] += 1
            return False
        session_id = entry.sessions[-1]  # the contact's most recent conversation
        if await self._host.get_session(session_id) is None:
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
        self.status.deliveries += 1
        self.status.delivered_by_sweep += 1 if by_sweep else 0
        self.status.last_delivery_at = now
        self.status.note_delivery_latency(
            max(0.0, now - datetimes.parse(reply.created).timestamp())
        )
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
        for session_id in pending:
            await self._host.resolve_session(session_id)
        if pending:
            self.status.sessions_resolved += len(pending)
            log.info("Case %s closed: resolved %d session(s)", case_id, len(pending))
            await self.ledger.clear_pending_resolution(case_id)
        return len(pending)
