"""The package's digest (``OpenCXDigest``) running in an emulated org, on the org's
clock: once started (anonymous Apex ``OpenCXDigest.start();``), it runs a minute
after the last run began, as the class's self-rescheduling does (each run schedules
the next one a minute ahead; a run late because the clock jumped runs once, then
again a minute later). Each run is the class's Queueable: the three queries of the
last ``LOOKBACK_MINUTES`` (the plugin's sweep streams: Cases changed after their
creation, deleted ones too; public comments; sent emails, on Cases whose
``Case_From__c`` is the package's value), then one signed callout with the digest,
an empty one being the heartbeat. [src: apexcode apex_scheduler.htm; the generated
OpenCXDigest.cls]

Its callout fails as any callout does (no answer, not 2xx: logged, not retried;
the next runs' windows overlap it) and waits and duplicates under the package's
fault knobs (``delay_ms``, ``duplicate_rate``). ``drop_rate`` is not for it: that
knob loses doorbells, which the digest, reading durable Case state, finds.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, Final

from opencx_salesforce.apex import contract, digest_contract, names
from opencx_salesforce.emulator.package.callouts import DELAY_POLL_SECONDS, callout_client, post
from opencx_salesforce.emulator.package.deployment import is_active
from opencx_salesforce.emulator.package.model import (
    DELIVERED,
    FAILED,
    CalloutRecord,
    apex_equals,
)
from opencx_salesforce.emulator.package.triggers import EMAIL_STATUS_DRAFT
from opencx_salesforce.salesforce import datetimes

if TYPE_CHECKING:
    from opencx_salesforce.emulator.org import Org, Record
    from opencx_salesforce.emulator.package.runtime import ApexRuntime

_logger = logging.getLogger(__name__)

PERIOD_SECONDS: Final = 60.0  # scheduleNext(): Datetime.now().addMinutes(1)


@dataclass
class DigestCounters:
    runs: int = 0  # digests built and sent (heartbeats included)
    delivered: int = 0  # answered 2xx
    failed: int = 0  # no answer or not 2xx
    changes: int = 0  # changes listed, over all runs


class EmulatedDigest:
    def __init__(self, runtime: ApexRuntime) -> None:
        self._runtime = runtime
        self.next_run: float | None = None  # on the org's clock; None: not scheduled
        self.counters = DigestCounters()
        self._lock = asyncio.Lock()
        self._poller: asyncio.Task[None] | None = None

    @property
    def org(self) -> Org:
        return self._runtime.org

    @property
    def scheduled(self) -> bool:
        return self.next_run is not None

    # --- start(), stop() ------------------------------------------------------------------

    def start(self) -> None:
        """start(): any digest job aborted, the next run a minute from now."""
        self.next_run = self.org.state.clock.now() + PERIOD_SECONDS
        if self._poller is None or self._poller.done():
            self._poller = asyncio.get_running_loop().create_task(self._poll())

    def stop(self) -> int:
        """stop(): the digest's jobs aborted; how many there were."""
        stopped = int(self.scheduled)
        self.next_run = None
        return stopped

    async def close(self) -> None:
        self.next_run = None
        if self._poller is not None:
            self._poller.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._poller
            self._poller = None

    # --- the schedule -----------------------------------------------------------------------

    async def _poll(self) -> None:
        # Polled: the org's clock can be moved by hand, and says nothing when it is.
        while self.scheduled:
            try:
                await self.run_due()
            except Exception:
                _logger.exception("simulated package: the digest run failed")
            await asyncio.sleep(DELAY_POLL_SECONDS)

    async def run_due(self) -> bool:
        """Run the digest if its time on the org's clock has come (tests call this
        to run it without waiting for the poll). Whether it ran."""
        async with self._lock:
            now = self.org.state.clock.now()
            if self.next_run is None or now < self.next_run:
                return False
            if not is_active(self.org, "ApexClass", names.DIGEST_CLASS):
                return False  # the class is gone: nothing runs
            self.next_run = now + PERIOD_SECONDS  # runScheduled(): the next one first
            await self._run()
            return True

    # --- one run: the Queueable --------------------------------------------------------------

    async def _run(self) -> None:
        runtime = self._runtime
        delay = runtime.faults.draw_delay()
        if delay:
            await asyncio.sleep(delay)
        until = self.org.state.clock.utcnow()
        body = self.body(until)
        secret = runtime.signing_secret
        endpoint, headers = runtime.request_for(body, secret)
        copies = 2 if runtime.faults.draw_duplicate() else 1
        self.counters.runs += 1
        self.counters.changes += len(json.loads(body)[digest_contract.FIELD_CHANGES])
        async with callout_client() as session:
            for copy in range(copies):
                answer = await post(session, endpoint, body, headers)
                if copy == 0:
                    if answer.ok:
                        self.counters.delivered += 1
                    else:
                        self.counters.failed += 1
                runtime.log.append(
                    CalloutRecord(
                        at=until.isoformat(timespec="milliseconds"),
                        event=digest_contract.EVENT_DIGEST,
                        case_id=None,
                        record_id=None,
                        outcome=DELIVERED if answer.ok else FAILED,
                        endpoint=endpoint,
                        status=answer.status,
                        error=answer.error,
                        duplicate=bool(copy),
                    )
                )

    def body(self, until: datetime) -> str:
        """The digest the class's toJson() writes for a run at ``until``."""
        since = until - timedelta(minutes=digest_contract.LOOKBACK_MINUTES)
        changes, truncated = collect(self.org, self._runtime.case_from_value, since)
        data: dict[str, Any] = {
            contract.FIELD_EVENT: digest_contract.EVENT_DIGEST,
            contract.FIELD_ORG_ID: self.org.id,
            digest_contract.FIELD_SINCE: stamp(since),
            digest_contract.FIELD_UNTIL: stamp(until),
            digest_contract.FIELD_TRUNCATED: truncated,
            digest_contract.FIELD_CHANGES: changes,
        }
        return json.dumps(data, separators=(",", ":"))

    def stats(self) -> dict[str, Any]:
        clock_next = self.next_run
        return {
            "scheduled": self.scheduled,
            "nextRunAt": None
            if clock_next is None
            else datetime.fromtimestamp(clock_next, UTC).isoformat(timespec="seconds"),
            **asdict(self.counters),
        }


def collect(org: Org, case_from: str, since: datetime) -> tuple[list[dict[str, str]], bool]:
    """The class's collect(): each query ``ORDER BY SystemModstamp, Id LIMIT
    MAX_CHANGES``; truncated when one returned that many rows or the total
    passed MAX_CHANGES."""
    limit = digest_contract.MAX_CHANGES

    def ours(case: Record | None) -> bool:
        return case is not None and apex_equals(case.get(names.CASE_FROM_FIELD), case_from)

    def page(rows: list[Record]) -> list[Record]:
        rows = [r for r in rows if _stamp_of(r) >= since]
        rows.sort(key=lambda r: (_stamp_of(r), str(r["Id"])))
        return rows[:limit]

    cases = page([c for c in org.records["Case"].values() if ours(c)])  # ALL ROWS
    comments = page(
        [
            c
            for c in org.records["CaseComment"].values()
            if not c.get("IsDeleted")
            and c.get("IsPublished") is True
            and ours(org.live("Case", str(c.get("ParentId") or "")))
        ]
    )
    emails = page(
        [
            e
            for e in org.records.get("EmailMessage", {}).values()
            if not e.get("IsDeleted")
            and e.get("Incoming") is not True
            and e.get("Status") != EMAIL_STATUS_DRAFT
            and ours(org.live("Case", str(e.get("ParentId") or "")))
        ]
    )
    truncated = any(len(rows) >= limit for rows in (cases, comments, emails))
    changes = [
        _change(c["Id"], c["Id"], c)
        for c in cases
        if c.get("SystemModstamp") != c.get("CreatedDate")  # never changed: no read needed
    ]
    changes += [_change(str(r["ParentId"]), r["Id"], r) for r in (*comments, *emails)]
    if len(changes) > limit:
        changes, truncated = changes[:limit], True
    return changes, truncated


def _stamp_of(record: Record) -> datetime:
    return datetimes.parse(str(record["SystemModstamp"]))


def _change(case_id: str, record_id: str, record: Record) -> dict[str, str]:
    return {
        contract.FIELD_CASE_ID: case_id,
        contract.FIELD_RECORD_ID: record_id,
        digest_contract.FIELD_STAMP: stamp(_stamp_of(record)),
    }


def stamp(moment: datetime) -> str:
    """formatGmt(STAMP_APEX_PATTERN): UTC to the millisecond."""
    moment = moment.astimezone(UTC)
    return f"{moment:%Y-%m-%dT%H:%M:%S}.{moment.microsecond // 1000:03d}Z"
