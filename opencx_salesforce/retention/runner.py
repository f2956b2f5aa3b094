"""The retention pass in the background: four times a day, one instance at a time.

Each instance's loop waits :data:`PASS_INTERVAL` from the start of the last pass
*any* instance ran (a record in the store, as the sweep's turns:
:mod:`opencx_salesforce.replies.sweep_turns`), and when its wait ends runs a
pass only if none ran since (asked under the pass's lock): N instances pass
four times a day together, not N times four. A pass that stopped at its limit
(a store upgraded with years of closed Cases) has the next come
:data:`SOON` after it instead.

The first pass of a store written before closings were kept gives the Cases
closed then the time of the upgrade (:meth:`CaseIndex.note_earlier_closings`),
under the same lock; a pass a week later does it once more, for what
instances of the earlier release closed during a rolling upgrade. The comment
body digests an earlier release kept without expiry are left as they are:
giving them one would list a namespace of millions of keys at once on a large
store (Redis lists a namespace whole), for a few dozen bytes each.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from datetime import UTC, datetime
from typing import Any

from opencx_salesforce.cases.index import CaseIndex
from opencx_salesforce.clock import SYSTEM_CLOCK, Clock
from opencx_salesforce.errors import LockBusy
from opencx_salesforce.retention.purge import RetentionPass
from opencx_salesforce.retention.status import PassReport, RetentionStatus
from opencx_salesforce.store import namespaces
from opencx_salesforce.store.base import Store
from opencx_salesforce.store.lock import store_lock

log = logging.getLogger(__name__)

NS = namespaces.RETENTION
LAST_KEY = "last_pass"  # {"started_at": …}: whose turn it is
# The step for an earlier release's store: {"walks": n, "at": t}. It walks
# twice: at the first pass, and once more a week later, for the Cases that
# instances still running the earlier release closed during a rolling upgrade.
UPGRADED_KEY = "upgraded"
UPGRADE_WALKS = 2
UPGRADE_AGAIN_AFTER = 7 * 86400.0
LOCK_NAME = "retention.pass"
# A crashed instance's lock blocks the others this long at most: renewed while
# a pass runs, however long.
LOCK_TTL = 60.0
LOCK_RENEW = 20.0
# Four passes a day: a Case is purged within six hours of coming due, and a
# day's closings are handled in a few small passes rather than one a day.
PASS_INTERVAL = 6 * 3600.0
SOON = 60.0  # after a pass that stopped at its limit


class RetentionRunner:
    def __init__(
        self,
        *,
        store: Store,
        index: CaseIndex,
        purge: RetentionPass,
        status: RetentionStatus,
        clock: Clock = SYSTEM_CLOCK,
    ) -> None:
        self._store = store
        self._index = index
        self._purge = purge
        self.status = status
        self._clock = clock
        self._task: asyncio.Task[None] | None = None
        self._turn: float | None = None  # the last pass's start, as this instance knows it
        self._more = False

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._loop(), name="salesforce-retention")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _loop(self) -> None:
        after: float | None = None
        while True:
            self._turn = None
            self._more = False
            await self._pass_and_log(after)
            now = self._clock.time()
            after = now if self._turn is None else min(self._turn, now)
            wait = SOON if self._more else PASS_INTERVAL
            await self._clock.sleep(max(0.0, after + wait - now))

    async def _pass_and_log(self, after: float | None) -> None:
        try:
            await self.run_once(after=after)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            self.status.passes_failed += 1
            self.status.last_error = f"{type(exc).__name__}: {exc}"
            log.warning("retention pass failed: %s", self.status.last_error)

    async def run_once(self, *, after: float | None = None) -> PassReport | None:
        """A pass now. None when another instance holds the lock, or, given
        ``after`` (the start of the last pass this instance knows of), when one
        has run since: that turn was taken."""
        try:
            async with store_lock(self._store, LOCK_NAME, LOCK_TTL, renew_every=LOCK_RENEW):
                last = await self._last()
                if after is not None and last is not None and last != after:
                    self._turn = last
                    self.status.passes_skipped += 1
                    return None
                started = self._clock.time()
                self._turn = started
                try:
                    await self._upgrade_once(started)
                    report = await self._purge.run()
                finally:
                    record = {"started_at": started}
                    await self._store.set(NS, LAST_KEY, json.dumps(record).encode())
        except LockBusy:
            self.status.passes_skipped += 1
            return None
        self._more = report.more
        self.status.add(report)
        log.info(
            "retention: removed the keys of %d Case(s) closed before %s (%d keys); "
            "%d due but kept for a later pass%s",
            report.cases_purged,
            _iso(report.cutoff),
            report.keys_removed,
            report.cases_kept,
            ", more next pass" if report.more else "",
        )
        return report

    async def _last(self) -> float | None:
        raw = await self._store.get(NS, LAST_KEY)
        return None if raw is None else float(json.loads(raw)["started_at"])

    async def _upgrade_once(self, now: float) -> None:
        raw = await self._store.get(NS, UPGRADED_KEY)
        done: dict[str, Any] = {"walks": 0, "at": now} if raw is None else json.loads(raw)
        if done["walks"] >= UPGRADE_WALKS:
            return
        if done["walks"] and now - float(done["at"]) < UPGRADE_AGAIN_AFTER:
            return
        noted = await self._index.note_earlier_closings(now)
        if noted:
            log.info(
                "retention: %d Case(s) closed before this release are kept from today (%s)",
                noted,
                _iso(now),
            )
        record = {"walks": done["walks"] + 1, "at": done["at"] if done["walks"] else now}
        await self._store.set(NS, UPGRADED_KEY, json.dumps(record).encode())


def _iso(t: float) -> str:
    """``t`` as an ISO date and time, UTC, to the second."""
    return datetime.fromtimestamp(t, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
