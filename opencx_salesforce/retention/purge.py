"""One retention pass: the keys of every Case closed longer than
``retention_days`` removed, day by day, Case by Case.

What it reads: the days that came due since the last pass
(:mod:`opencx_salesforce.cases.closed_days`: one listing a day, of that day's
Cases only), and, once it has a Case to purge, the outbox's item ids (one
listing a pass). Nothing else is walked, and no Salesforce call is made: the
plugin saw each Case close (the read that resolved its sessions noted when).

What it never purges:

* a Case that is open again (a rep reopened it: the index's entry says so and
  its closing time was forgotten), or closed again since (counted from then);
* a Case being read by a notify job or the sweep (its ``replies:`` lock), or
  whose contact's handoff is running (the contact's lock): tried next pass;
* a Case whose conversation still has work in the outbox, dead letters
  included (an admin may still send a contact's words with Retry): any item
  naming the Case or one of its sessions.

What is left of a purged Case: a session the host still has keeps a small
``purged`` record (its last Case and generation), so that if the contact writes
again, or the bot hands the conversation off again, the words go to a new Case
linked to the old one (the old Case's external id is not reused). A rep's
later comment on the purged Case is not delivered: the plugin no longer knows
the Case (a notification for it is dropped as an unknown Case's, and the sweep
does not read it), as docs/operations.md says.
"""

from __future__ import annotations

import asyncio
import enum
import logging
from collections.abc import Sequence
from contextlib import AsyncExitStack

from opencx_salesforce.cases.closed_days import day_of, days_between, next_day
from opencx_salesforce.cases.index import CaseIndex
from opencx_salesforce.clock import SYSTEM_CLOCK, Clock
from opencx_salesforce.errors import LockBusy
from opencx_salesforce.hookspecs import Host
from opencx_salesforce.replies.ledger import ReplyLedger
from opencx_salesforce.retention.status import PassReport
from opencx_salesforce.store.base import Store
from opencx_salesforce.store.lock import store_lock

log = logging.getLogger(__name__)

# The locks the reply path and the Case path hold: the same names
# (ReplyService.case_lock, cases/service.py _lock_name), held just long enough
# for one Case's deletes.
LOCK_TTL = 60.0
# Cases a pass purges (or drops from a day's list) at most: a store upgraded
# with years of Cases closed finishes over several passes, a minute apart
# (runner.SOON), never in one that holds the store for long.
PASS_LIMIT = 5000
# Cases handled between two yields to the event loop.
PAGE = 50


class Outcome(enum.Enum):
    PURGED = "purged"
    KEPT = "kept"  # due, but not now: tried again next pass
    LATER = "later"  # listed under a day that came due, the Case not yet
    DROPPED = "dropped"  # the listing was stale: removed


class RetentionPass:
    def __init__(
        self,
        *,
        store: Store,
        host: Host,
        index: CaseIndex,
        ledger: ReplyLedger,
        outbox_queue: str,
        retention_seconds: float,
        clock: Clock = SYSTEM_CLOCK,
        limit: int = PASS_LIMIT,
    ) -> None:
        self._store = store
        self._host = host
        self._index = index
        self._ledger = ledger
        self._queue = outbox_queue
        self._retention = retention_seconds
        self._clock = clock
        self._limit = limit
        self._busy: list[str] | None = None  # the outbox's item ids, read once a pass

    async def run(self) -> PassReport:
        now = self._clock.time()
        report = PassReport(started_at=now, cutoff=now - self._retention)
        self._busy = None
        days = self._index.closed_days
        oldest = await days.oldest()
        if oldest is None:
            return report  # no Case was ever listed as closed
        contiguous = True  # every day before this one is empty
        handled = 0
        for day in days_between(oldest, day_of(report.cutoff)):
            left = 0
            for n, case_id in enumerate(await days.cases(day), start=1):
                if handled >= self._limit:
                    report.more = True
                    return report
                outcome = await self._one(day, case_id, report)
                # The limit counts the Cases written (purged, listings dropped):
                # those not due, or kept, cost two reads and are looked at again.
                if outcome in (Outcome.KEPT, Outcome.LATER):
                    left += 1
                else:
                    handled += 1
                if n % PAGE == 0:
                    await asyncio.sleep(0)
            if contiguous and left == 0:
                await days.move_oldest(day, next_day(day))
            else:
                contiguous = False
        return report

    async def _one(self, day: str, case_id: str, report: PassReport) -> Outcome:
        days = self._index.closed_days
        closed_at = await self._index.closed_at(case_id)
        entry = await self._index.case(case_id)
        if closed_at is None:
            if entry is not None and entry.closed:
                # Listed, but a crash cut its closing short before its time was
                # kept: counted from now, a day's listing of its own.
                await self._index.note_closed_at(case_id, self._clock.time())
                await days.note([case_id])
            await days.drop(day, case_id)
            report.listings_dropped += 1
            return Outcome.DROPPED
        if closed_at > report.cutoff:
            if day_of(closed_at) > day:  # closed again later: that day lists it
                await days.drop(day, case_id)
                report.listings_dropped += 1
                return Outcome.DROPPED
            return Outcome.LATER
        if entry is None or not entry.closed:
            # Purged already (a pass cut short after the entry went), or open
            # again: its closing time is stale either way.
            await self._index.forget_closed_at(case_id)
            await days.drop(day, case_id)
            report.listings_dropped += 1
            return Outcome.DROPPED
        if await self._has_work(case_id, entry.sessions):
            report.cases_kept += 1
            return Outcome.KEPT
        try:
            async with AsyncExitStack() as locks:
                await locks.enter_async_context(
                    store_lock(self._store, f"replies:{case_id}", LOCK_TTL)
                )
                if entry.contact_key:
                    await locks.enter_async_context(
                        store_lock(self._store, f"contact:{entry.contact_key}", LOCK_TTL)
                    )
                # Read again under the locks: a reading or a handoff may have
                # changed it since.
                entry = await self._index.case(case_id)
                if entry is None or not entry.closed:
                    report.cases_kept += 1
                    return Outcome.KEPT
                removed = await self._ledger.forget_case(case_id)
                removed += await self._index.forget_case(case_id, entry, self._host_has)
        except LockBusy:
            report.cases_kept += 1
            return Outcome.KEPT
        await days.drop(day, case_id)
        report.cases_purged += 1
        report.keys_removed += removed
        log.debug("retention: Case %s (closed %s) forgotten: %d keys", case_id, day, removed)
        return Outcome.PURGED

    async def _host_has(self, session_id: str) -> bool:
        return await self._host.get_session(session_id) is not None

    async def _has_work(self, case_id: str, sessions: Sequence[str]) -> bool:
        """Whether an outbox item (any state, dead letters too) names the Case
        or one of its sessions: ``kind:<id>`` or ``kind:<id>:…``."""
        if self._busy is None:
            self._busy = [item.item_id for item in await self._store.items(self._queue)]
        names = {case_id, *sessions}
        for item_id in self._busy:
            _, _, rest = item_id.partition(":")
            if rest in names or any(rest.startswith(f"{name}:") for name in names):
                return True
        return False
