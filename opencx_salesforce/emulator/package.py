"""The generated Salesforce package, deployed in an emulated org, and the bit of the
Apex runtime it needs.

**Deployed** means what ``sf project deploy`` of the generated project leaves in an
org: the Apex class and test class, the three triggers (Status Active), and the
Named Credential ``OpenCX_Integration`` whose Endpoint is the webhook URL. The
signing secret (a Custom Metadata record in a real org) is kept by the runtime.
:func:`deploy_package` puts all of that in place from the real templates; a test
breaks any part with the org's own metadata methods (a trigger redeployed
Inactive, the Named Credential pointing elsewhere, the class removed), and the
emulator then behaves as that org would.

**Triggers.** :class:`ApexRuntime` listens to the org's record writes
(``Org.listeners``) and does what the generated Apex does
(``apex/templates/OpenSalesforceCaseManagement.cls.j2``), filter for filter:

* CaseComment after insert: ``IsPublished`` comments on Cases whose
  ``Case_From__c`` is the package's value ("opencx") → ``case_comment.created``;
* EmailMessage after insert: ``Incoming != true`` with a parent on such a Case →
  ``email_message.created``;
* Case after update: ``Status`` or ``IsClosed`` changed on such a Case →
  ``case.updated``;

with Apex's case-insensitive string ``==``, one ring per ``event:recordId`` per
transaction, and one Queueable job per trigger invocation (at most 50 per
transaction). [src: apexcode langCon_apex_expressions_operators_understanding.htm
"String comparison using == is case-insensitive" (quoted in salesforce.stackexchange
question 226832); apex_gov_limits.htm]

**Transactions.** Callouts happen after commit, in the job; a rolled-back write
enqueues nothing. A transaction here is what one asyncio task writes before it
next yields to the event loop: the REST handlers and composite requests do all
their writes (and ``Org.restore`` on rollback) without yielding, so the commit is
scheduled with ``loop.call_soon`` and a restore seen before it (``Change.undone``)
takes the rolled-back writes' doorbells back out. Consecutive writes of one object
and operation in a transaction count as one trigger invocation (one job), as when
Salesforce bulkifies a collection or collated composite subrequests.

**Jobs and callouts.** Each job waits (fault knobs), then POSTs one callout per
doorbell, in order, to the Named Credential's Endpoint as it is at callout time:
the contract's body and headers (:mod:`opencx_salesforce.apex.contract`), a 10 s
timeout, redirects not followed, no retry. A job makes at most 100 callouts, and
none that could overrun the 120 s callout budget; the rest go to a chained job.
A failed callout is logged (``ApexRuntime.log``) and dropped: the Apex only writes
it to the debug log. [src: apexcode apex_callouts_timeouts.htm; SALESFORCE.md §7]

**Anonymous Apex.** ``GET tooling/executeAnonymous/?anonymousBody=...`` is served
for every org the runtime is installed on: ``OpenSalesforceCaseManagement.ping();``
sends a ping synchronously, as ``doctor`` expects; a missing class is the
compiler's "Variable does not exist"; any other code is refused as unsupported.
[src: api sforce_api_calls_executeanonymous_result.htm]
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import random
import re
import tempfile
from collections import deque
from collections.abc import AsyncIterator, Iterator, Mapping
from dataclasses import asdict, dataclass, field, fields
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

import aiohttp

from opencx_salesforce.apex import contract, names
from opencx_salesforce.apex.render import render_package
from opencx_salesforce.emulator.org import Change, Record
from opencx_salesforce.emulator.rest.dispatch import RestRequest, RestResponse, Route

if TYPE_CHECKING:
    from opencx_salesforce.emulator.org import Org

_logger = logging.getLogger(__name__)

# The Apex's own limits. [src: apexcode apex_gov_limits.htm; apex_callouts_timeouts.htm;
# the generated class's CALLOUT_TIMEOUT_MS / CALLOUT_TIME_BUDGET_MS]
CALLOUT_TIMEOUT_SECONDS: Final = 10.0
CALLOUT_TIME_BUDGET_SECONDS: Final = 120.0
MAX_CALLOUTS_PER_JOB: Final = 100
MAX_JOBS_PER_TRANSACTION: Final = 50
LOG_LENGTH: Final = 1000

# Outcomes of a doorbell in the log.
DELIVERED: Final = "delivered"  # the webhook answered 2xx
FAILED: Final = "failed"  # no answer, or not 2xx; dropped, as the Apex does
DROPPED: Final = "dropped"  # lost by the drop knob: never sent
SKIPPED: Final = "skipped"  # past the Queueable limit; left to the plugin's sweep

# What Apex callouts raise when the far end cannot be used. Wording as commonly
# reported by orgs (UNCONFIRMED in Salesforce's docs).
NAMED_CREDENTIAL_MISSING: Final = (
    "The callout couldn't access the endpoint. You might not have the required "
    f'permissions, or the named credential "{names.NAMED_CREDENTIAL}" might not exist.'
)
UNREACHABLE: Final = (
    'Unable to tunnel through proxy. Proxy returns "HTTP/1.1 503 Service Unavailable"'
)
TIMED_OUT: Final = "Read timed out"

# Apex callouts identify themselves so. (UNCONFIRMED: observed, not documented.)
USER_AGENT: Final = "SFDC-Callout/{version}"

_TRIGGER_FOR: Final = {
    (table, event): trigger
    for trigger, (table, events) in names.TRIGGERS.items()
    for event in events
}
_TRIGGER_TABLES: Final = frozenset(table for table, _event in _TRIGGER_FOR)


# --- knobs, counters, log -----------------------------------------------------------------


@dataclass
class PackageFaults:
    """What goes wrong with one org's webhooks. All off by default; every random
    choice comes from the seeded generator, drawn when a job is enqueued, so a run
    is reproducible."""

    drop_rate: float = 0.0  # probability a doorbell is lost (never sent)
    duplicate_rate: float = 0.0  # probability a callout is sent twice
    delay_ms: float = 0.0  # before each job runs (the Queueable waiting its turn)
    delay_jitter_ms: float = 0.0  # plus a uniform 0..jitter
    # Jobs run concurrently, as Salesforce runs Queueable jobs, instead of one after
    # another; with delay jitter they finish in any order.
    reorder: bool = False
    seed: int = 0
    _random: random.Random = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        self._random = random.Random(self.seed)

    def reseed(self, seed: int) -> None:
        self.seed = seed
        self._random = random.Random(seed)

    def reset(self) -> None:
        """Everything off again; the generator restarts from the seed."""
        self.drop_rate = self.duplicate_rate = self.delay_ms = self.delay_jitter_ms = 0.0
        self.reorder = False
        self.reseed(self.seed)

    def draw_delay(self) -> float:
        jitter = self._random.uniform(0, self.delay_jitter_ms) if self.delay_jitter_ms else 0.0
        return max(0.0, self.delay_ms + jitter) / 1000.0

    def draw_drop(self) -> bool:
        return self.drop_rate > 0 and self._random.random() < self.drop_rate

    def draw_duplicate(self) -> bool:
        return self.duplicate_rate > 0 and self._random.random() < self.duplicate_rate

    def as_dict(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in fields(self) if not f.name.startswith("_")}


@dataclass
class WebhookCounters:
    jobs: int = 0  # Queueable jobs run, chained ones included
    sent: int = 0  # callouts made (duplicates included) = delivered + failed
    delivered: int = 0  # answered 2xx
    failed: int = 0  # no answer or not 2xx
    dropped: int = 0  # doorbells lost by the drop knob
    duplicated: int = 0  # extra copies sent by the duplicate knob
    skipped: int = 0  # doorbells past the Queueable limit of their transaction


@dataclass(frozen=True)
class CalloutRecord:
    """One line of the org's webhook log."""

    at: str  # when, ISO 8601 UTC
    event: str
    case_id: str | None
    record_id: str | None
    outcome: str  # DELIVERED, FAILED, DROPPED or SKIPPED
    endpoint: str | None = None
    status: int | None = None
    error: str | None = None  # the CalloutException message, or why it was not sent
    duplicate: bool = False


@dataclass(frozen=True)
class Deployment:
    """What of the package the org holds right now."""

    apex_class: bool  # the callout class is there, Active
    triggers: Mapping[str, bool]  # trigger name -> there and Active
    endpoint: str | None  # the Named Credential's Endpoint; None when it is missing

    @property
    def complete(self) -> bool:
        return self.apex_class and all(self.triggers.values()) and self.endpoint is not None

    def as_dict(self) -> dict[str, Any]:
        return {
            "deployed": self.complete,
            "apexClass": self.apex_class,
            "triggers": dict(self.triggers),
            "namedCredentialEndpoint": self.endpoint,
        }


# --- deploying ---------------------------------------------------------------------------


def deploy_package(
    org: Org,
    webhook_url: str,
    signing_secret: str | None = None,
    *,
    case_from_value: str = names.DEFAULT_CASE_FROM_VALUE,
) -> ApexRuntime:
    """Deploy the generated package into ``org``, as ``sf project deploy`` would:
    the class, test class and triggers (Active, their real source), the Named
    Credential pointing at ``webhook_url``, and the signing secret. Inputs are
    checked as ``opencx-salesforce apex`` checks them
    (:class:`~opencx_salesforce.errors.ConfigError`)."""
    with tempfile.TemporaryDirectory(prefix="opencx-package-") as folder:
        out = Path(folder)
        written = render_package(
            out,
            webhook_url=webhook_url,
            signing_secret=signing_secret,
            api_version=org.seed.api_version,
            case_from_value=case_from_value,
        )
        sources = {path.name: path.read_text(encoding="utf-8") for path in written}
    for class_name in (names.CALLOUT_CLASS, names.TEST_CLASS):
        org.set_apex_class(class_name, sources[f"{class_name}.cls"])
    for trigger, (table, _events) in names.TRIGGERS.items():
        org.set_apex_trigger(trigger, table, sources[f"{trigger}.trigger"])
    org.set_named_credential(names.NAMED_CREDENTIAL, webhook_url, label="OpenCX Integration")
    runtime = apex_runtime(org)
    runtime.signing_secret = signing_secret
    runtime.case_from_value = case_from_value
    return runtime


def deployment_of(org: Org) -> Deployment:
    """What of the package ``org`` holds (reads its metadata; installs nothing)."""
    return Deployment(
        apex_class=_active(org, "ApexClass", names.CALLOUT_CLASS),
        triggers={name: _active(org, "ApexTrigger", name) for name in names.TRIGGERS},
        endpoint=_endpoint(org),
    )


def _metadata(org: Org, sobject: str, key: str, name: str) -> Record | None:
    for record in org.records[sobject].values():
        if _apex_equals(record.get(key), name):  # Apex names are case-insensitive
            return record
    return None


def _active(org: Org, sobject: str, name: str) -> bool:
    record = _metadata(org, sobject, "Name", name)
    return record is not None and record.get("Status") == "Active"


def _endpoint(org: Org) -> str | None:
    record = _metadata(org, "NamedCredential", "DeveloperName", names.NAMED_CREDENTIAL)
    return None if record is None else str(record.get("Endpoint") or "")


def find_runtime(org: Org) -> ApexRuntime | None:
    for listener in org.listeners:
        if isinstance(listener, ApexRuntime):
            return listener
    return None


def iter_runtimes(orgs: Mapping[str, Org]) -> Iterator[ApexRuntime]:
    """The runtimes installed on ``orgs`` (e.g. ``state.orgs``)."""
    for org in orgs.values():
        runtime = find_runtime(org)
        if runtime is not None:
            yield runtime


def apex_runtime(org: Org) -> ApexRuntime:
    """The org's Apex runtime, installed on first use (idempotent)."""
    return find_runtime(org) or ApexRuntime(org)


# --- what the triggers enqueue ------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class Doorbell:
    """One ring: what happened to which record of which Case (the Apex's Doorbell)."""

    event: str
    case_id: str | None
    record_id: str | None
    occurred_at: str  # contract format, e.g. "2026-11-25T01:40:00Z"

    @property
    def key(self) -> str:
        return f"{self.event}:{self.record_id}"

    def body(self, org_id: str) -> str:
        """The JSON the Apex's JSONGenerator writes: compact, fields in contract order."""
        values = (self.event, org_id, self.case_id, self.record_id, self.occurred_at)
        return json.dumps(
            dict(zip(contract.PAYLOAD_FIELDS, values, strict=True)), separators=(",", ":")
        )


@dataclass(eq=False)
class _Job:
    bells: list[Doorbell] = field(default_factory=list)


@dataclass(eq=False)
class _Write:
    """A write seen in an open transaction: the record as stored, and what it rang."""

    after: Record | None
    bells: list[Doorbell] = field(default_factory=list)


@dataclass(eq=False)
class _Transaction:
    jobs: list[_Job] = field(default_factory=list)
    rung: set[str] = field(default_factory=set)  # the Apex's rungThisTransaction
    history: dict[tuple[str, str], list[_Write]] = field(default_factory=dict)
    run: tuple[str, str] | None = None  # (sObject, operation) of the current trigger run
    job: _Job | None = None  # the current run's job


@dataclass(frozen=True)
class _Answer:
    status: int | None
    reason: str = ""
    body: str = ""
    error: str | None = None  # a CalloutException message when there was no answer

    @property
    def ok(self) -> bool:
        return self.status is not None and 200 <= self.status < 300


def _apex_equals(left: Any, right: Any) -> bool:
    """Apex ``==``: strings compare case-insensitively, null equals only null."""
    if isinstance(left, str) and isinstance(right, str):
        return left.casefold() == right.casefold()
    return bool(left == right)


def _contract_time(value: Any, fallback: datetime) -> str:
    """A stored dateTime (``2013-05-20T20:49:32.000+0000``) in the contract's format."""
    moment = fallback
    if isinstance(value, str):
        with contextlib.suppress(ValueError):
            moment = datetime.strptime(value[:19], "%Y-%m-%dT%H:%M:%S").replace(tzinfo=UTC)
    return moment.strftime(contract.OCCURRED_AT_STRFTIME)


# --- the runtime -------------------------------------------------------------------------


class ApexRuntime:
    """The package's Apex running in one org. Installing it (``apex_runtime(org)``)
    hooks the org's writes and adds ``tooling/executeAnonymous``; nothing is sent
    unless the org holds the package (:meth:`deployment`)."""

    def __init__(self, org: Org) -> None:
        self.org = org
        self.faults = PackageFaults()
        self.counters = WebhookCounters()
        self.log: deque[CalloutRecord] = deque(maxlen=LOG_LENGTH)
        # The OpenCX_Settings.Default record's Signing_Secret__c; None = unsigned.
        self.signing_secret: str | None = None
        self.case_from_value: str = names.DEFAULT_CASE_FROM_VALUE
        self._open: dict[int, _Transaction] = {}
        self._commit_scheduled = False
        self._tasks: set[asyncio.Task[None]] = set()
        self._last_job: asyncio.Task[None] | None = None
        self._closed = False
        org.listeners.append(self)
        org.add_rest_route(Route.of("tooling/executeAnonymous", GET=self._execute_anonymous))

    # --- what the org holds -----------------------------------------------------------------

    def deployment(self) -> Deployment:
        return deployment_of(self.org)

    def _active(self, sobject: str, name: str) -> bool:
        return _active(self.org, sobject, name)

    def _endpoint(self) -> str | None:
        return _endpoint(self.org)

    def _class_body(self) -> str:
        record = _metadata(self.org, "ApexClass", "Name", names.CALLOUT_CLASS)
        return str(record.get("Body") or "") if record else ""

    # --- the triggers -------------------------------------------------------------------------

    def __call__(self, change: Change) -> None:
        """``Org.listeners`` calls this after each write. A bug here must not fail
        the write: it is logged instead."""
        try:
            if change.undone:
                self._undo(change)
            else:
                self._hear(change)
        except Exception:
            _logger.exception(
                "simulated package: trigger failed on %s %s", change.sobject, change.record_id
            )

    def _hear(self, change: Change) -> None:
        if change.sobject not in _TRIGGER_TABLES:
            return
        operation = _operation(change)
        tx = self._transaction()
        write = _Write(change.after)
        tx.history.setdefault((change.sobject, change.record_id), []).append(write)
        if tx.run != (change.sobject, operation):
            tx.run, tx.job = (change.sobject, operation), None
        trigger = _TRIGGER_FOR.get((change.sobject, f"after {operation}"))
        if trigger is None or not self._active("ApexTrigger", trigger):
            return
        if not self._active("ApexClass", names.CALLOUT_CLASS):
            return  # a trigger whose class is gone cannot run
        fresh = [bell for bell in self._bells(change) if bell.key not in tx.rung]
        if not fresh:
            return
        tx.rung.update(bell.key for bell in fresh)
        if tx.job is None:
            if len(tx.jobs) >= MAX_JOBS_PER_TRANSACTION:
                # The Apex leaves these to the plugin's reconciliation sweep.
                for bell in fresh:
                    self.counters.skipped += 1
                    self._record(bell, SKIPPED, error="Queueable job limit reached")
                return
            tx.job = _Job()
            tx.jobs.append(tx.job)
        tx.job.bells.extend(fresh)
        write.bells.extend(fresh)

    def _bells(self, change: Change) -> list[Doorbell]:
        record = change.after or {}
        now = self.org.state.clock.utcnow()
        if change.sobject == "CaseComment":
            # onCaseCommentsInserted: published comments on OpenCX Cases.
            if record.get("IsPublished") is True and self._is_opencx(record.get("ParentId")):
                return [
                    Doorbell(
                        contract.EVENT_CASE_COMMENT_CREATED,
                        record["ParentId"],
                        record["Id"],
                        _contract_time(record.get("CreatedDate"), now),
                    )
                ]
        elif change.sobject == "EmailMessage":
            # onEmailMessagesInserted: Incoming != true, a parent, an OpenCX Case.
            parent = record.get("ParentId")
            if record.get("Incoming") is not True and parent and self._is_opencx(parent):
                return [
                    Doorbell(
                        contract.EVENT_EMAIL_MESSAGE_CREATED,
                        parent,
                        record["Id"],
                        _contract_time(record.get("CreatedDate"), now),
                    )
                ]
        elif change.sobject == "Case" and change.before is not None:
            # onCasesUpdated: Status or IsClosed changed, Case_From__c the package's.
            prior = change.before
            changed = not _apex_equals(record.get("Status"), prior.get("Status")) or (
                record.get("IsClosed") != prior.get("IsClosed")
            )
            opencx = _apex_equals(record.get(names.CASE_FROM_FIELD), self.case_from_value)
            if changed and opencx:
                return [
                    Doorbell(
                        contract.EVENT_CASE_UPDATED,
                        record["Id"],
                        record["Id"],
                        _contract_time(record.get("LastModifiedDate"), now),
                    )
                ]
        return []

    def _is_opencx(self, case_id: Any) -> bool:
        """The trigger's query: SELECT Id FROM Case WHERE Id IN :ids AND
        Case_From__c = :CASE_FROM (SOQL text comparison is case-insensitive)."""
        case = self.org.live("Case", case_id) if isinstance(case_id, str) else None
        return case is not None and _apex_equals(
            case.get(names.CASE_FROM_FIELD), self.case_from_value
        )

    # --- transactions -------------------------------------------------------------------------

    def _transaction(self) -> _Transaction:
        key = _task_key()
        tx = self._open.get(key)
        if tx is None:
            tx = self._open[key] = _Transaction()
        self._schedule_commit()
        return tx

    def _schedule_commit(self) -> None:
        if self._commit_scheduled:
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return  # no loop yet: committed with the next transaction, or by drain()
        loop.call_soon(self._commit)
        self._commit_scheduled = True

    def _undo(self, change: Change) -> None:
        """``Org.restore`` put a record back: the writes after that state never
        happened, and neither did the jobs they enqueued."""
        tx = self._open.get(_task_key())
        writes = tx.history.get((change.sobject, change.record_id)) if tx else None
        if tx is None or not writes:
            return
        while writes and writes[-1].after is not change.after:
            for bell in writes.pop().bells:
                for job in tx.jobs:
                    if bell in job.bells:
                        job.bells.remove(bell)
        tx.jobs = [job for job in tx.jobs if job.bells]
        tx.run = tx.job = None

    def _commit(self) -> None:
        self._commit_scheduled = False
        transactions, self._open = list(self._open.values()), {}
        if self._closed:
            return  # the emulator is shutting down: no new jobs
        for tx in transactions:
            for job in tx.jobs:
                self._enqueue(job.bells)

    # --- jobs ----------------------------------------------------------------------------------

    def _enqueue(self, bells: list[Doorbell]) -> None:
        delay = self.faults.draw_delay()
        deliveries: list[tuple[Doorbell, int]] = []
        for bell in bells:
            if self.faults.draw_drop():
                self.counters.dropped += 1
                self._record(bell, DROPPED)
                continue
            deliveries.append((bell, 2 if self.faults.draw_duplicate() else 1))
        previous = None if self.faults.reorder else self._last_job
        task = asyncio.get_running_loop().create_task(self._run_job(deliveries, delay, previous))
        self._last_job = task
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _run_job(
        self,
        deliveries: list[tuple[Doorbell, int]],
        delay: float,
        previous: asyncio.Task[None] | None,
    ) -> None:
        if previous is not None and not previous.done():
            await asyncio.wait({previous})  # FIFO, whatever became of the previous job
        if delay:
            await asyncio.sleep(delay)
        self.counters.jobs += 1
        secret = self.signing_secret  # execute() reads the secret once per job
        loop = asyncio.get_running_loop()
        async with _callout_client() as session:
            started, made = loop.time(), 0
            for bell, copies in deliveries:
                elapsed = loop.time() - started
                if made >= MAX_CALLOUTS_PER_JOB or (
                    elapsed + CALLOUT_TIMEOUT_SECONDS > CALLOUT_TIME_BUDGET_SECONDS
                ):
                    # mayCallOut() said no: the rest goes to a chained job.
                    self.counters.jobs += 1
                    started, made = loop.time(), 0
                await self._deliver(session, bell, copies, secret)
                made += 1

    async def _deliver(
        self, session: aiohttp.ClientSession, bell: Doorbell, copies: int, secret: str | None
    ) -> None:
        endpoint, body, headers = self._request(bell, secret)
        for copy in range(copies):
            answer = await _post(session, endpoint, body, headers)
            self.counters.sent += 1
            if copy:
                self.counters.duplicated += 1
            if answer.ok:
                self.counters.delivered += 1
            else:
                self.counters.failed += 1
                _logger.info(
                    "simulated package: webhook %s for %s failed: %s",
                    bell.event,
                    bell.record_id,
                    answer.error or answer.status,
                )
            self._record(
                bell,
                DELIVERED if answer.ok else FAILED,
                endpoint=endpoint,
                status=answer.status,
                error=answer.error,
                duplicate=bool(copy),
            )

    def _request(
        self, bell: Doorbell, secret: str | None
    ) -> tuple[str | None, str, dict[str, str]]:
        """The Apex's send(): endpoint ``callout:OpenCX_Integration`` resolved now,
        the body, the timestamp and (with a secret) the signature headers."""
        body = bell.body(self.org.id)
        timestamp = str(int(self.org.state.clock.now()))
        headers = {
            contract.HEADER_CONTENT_TYPE: contract.CONTENT_TYPE_JSON,
            contract.HEADER_TIMESTAMP: timestamp,
            "User-Agent": USER_AGENT.format(version=self.org.seed.api_version),
        }
        if secret is not None and secret.strip():  # String.isNotBlank(secret)
            headers[contract.HEADER_SIGNATURE] = contract.sign(secret, timestamp, body)
        return self._endpoint(), body, headers

    def _record(
        self,
        bell: Doorbell,
        outcome: str,
        *,
        endpoint: str | None = None,
        status: int | None = None,
        error: str | None = None,
        duplicate: bool = False,
    ) -> None:
        self.log.append(
            CalloutRecord(
                at=self.org.state.clock.utcnow().isoformat(timespec="milliseconds"),
                event=bell.event,
                case_id=bell.case_id,
                record_id=bell.record_id,
                outcome=outcome,
                endpoint=endpoint,
                status=status,
                error=error,
                duplicate=duplicate,
            )
        )

    async def drain(self) -> None:
        """Commit what is pending and wait until every job has run (tests, shutdown)."""
        while True:
            await asyncio.sleep(0)
            if self._open:
                self._commit()
            if not self._tasks:
                return
            await asyncio.wait(set(self._tasks))

    async def close(self) -> None:
        """Stop the jobs still running and start no more (the emulator is shutting
        down)."""
        self._closed = True
        tasks = set(self._tasks)
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.wait(tasks)

    def stats(self) -> dict[str, Any]:
        return {
            "package": self.deployment().as_dict(),
            "webhooks": asdict(self.counters),
            "faults": self.faults.as_dict(),
        }

    # --- anonymous Apex -------------------------------------------------------------------------

    async def _execute_anonymous(self, request: RestRequest) -> RestResponse:
        result = await self.execute_anonymous(request.param("anonymousBody") or "")
        return RestResponse(200, result)

    async def execute_anonymous(self, source: str) -> dict[str, Any]:
        """An ExecuteAnonymousResult for ``source``; see the module docstring."""
        code = _without_comments(source)
        if not code.strip():
            return _anonymous_result()
        call = _PING_CALL.fullmatch(code)
        if call is None:
            return _anonymous_result(
                compile_problem=(
                    "Not supported by the emulator: its anonymous Apex runs only "
                    f"{names.CALLOUT_CLASS}.ping();"
                ),
                at=_position(code, len(code) - len(code.lstrip())),
            )
        class_name = call["cls"]
        if not _apex_equals(class_name, names.CALLOUT_CLASS) or not self._active(
            "ApexClass", names.CALLOUT_CLASS
        ):
            # The compiler reads an unknown type in "X.ping()" as a variable.
            return _anonymous_result(
                compile_problem=f"Variable does not exist: {class_name}",
                at=_position(code, call.start("cls")),
            )
        return await self._ping(statement_at=_position(code, call.start("cls")))

    async def _ping(self, statement_at: tuple[int, int]) -> dict[str, Any]:
        """ping(): one signed "ping" now, and an exception unless it answers 2xx."""
        now = self.org.state.clock.utcnow()
        bell = Doorbell(
            contract.EVENT_PING, None, None, now.strftime(contract.OCCURRED_AT_STRFTIME)
        )
        endpoint, body, headers = self._request(bell, self.signing_secret)
        async with _callout_client() as session:
            answer = await _post(session, endpoint, body, headers)
        self._record(
            bell,
            DELIVERED if answer.ok else FAILED,
            endpoint=endpoint,
            status=answer.status,
            error=answer.error,
        )
        if answer.ok:
            return _anonymous_result()
        source = self._class_body()
        ping_line = _line_of(source, "send(toJson(doorbell), signingSecret())")
        frames = [f"Class.{names.CALLOUT_CLASS}.ping: line {ping_line}, column 1"]
        if answer.error is not None:
            message = f"System.CalloutException: {answer.error}"
            send_line = _line_of(source, "return new Http().send(request);")
            frames.insert(0, f"Class.{names.CALLOUT_CLASS}.send: line {send_line}, column 1")
        else:
            message = (
                f"{names.CALLOUT_CLASS}.WebhookException: OpenCX webhook answered "
                f"{answer.status} {answer.reason}: {answer.body[:200]}"
            )
            frames[0] = (
                f"Class.{names.CALLOUT_CLASS}.ping: line "
                f"{_line_of(source, 'throw new WebhookException')}, column 1"
            )
        line, column = statement_at
        frames.append(f"AnonymousBlock: line {line}, column {column}")
        return _anonymous_result(
            exception=(message, "\n".join(frames)),
            at=statement_at,
        )


def _operation(change: Change) -> str:
    if change.before is None:
        return "insert"
    after = change.after or {}
    if after.get("IsDeleted") and not change.before.get("IsDeleted"):
        return "delete"
    return "update"


def _task_key() -> int:
    """Which transaction a write belongs to: the asyncio task making it."""
    try:
        task = asyncio.current_task()
    except RuntimeError:
        return 0
    return id(task) if task is not None else 0


@contextlib.asynccontextmanager
async def _callout_client() -> AsyncIterator[aiohttp.ClientSession]:
    timeout = aiohttp.ClientTimeout(total=CALLOUT_TIMEOUT_SECONDS)
    async with aiohttp.ClientSession(timeout=timeout, trust_env=False) as session:
        yield session


async def _post(
    session: aiohttp.ClientSession, endpoint: str | None, body: str, headers: Mapping[str, str]
) -> _Answer:
    """One Apex callout: POST, redirects not followed, no retry."""
    if endpoint is None:
        return _Answer(None, error=NAMED_CREDENTIAL_MISSING)
    try:
        async with session.post(
            endpoint, data=body.encode("utf-8"), headers=dict(headers), allow_redirects=False
        ) as response:
            text = await response.text(errors="replace")
            return _Answer(response.status, response.reason or "", text)
    except TimeoutError:
        return _Answer(None, error=TIMED_OUT)
    except (aiohttp.ClientError, ValueError, OSError):
        return _Answer(None, error=UNREACHABLE)


# --- anonymous Apex helpers ------------------------------------------------------------------

_PING_CALL = re.compile(r"\s*(?P<cls>[A-Za-z_][A-Za-z0-9_]*)\s*\.\s*ping\s*\(\s*\)\s*;\s*", re.I)
_COMMENT = re.compile(r"//[^\n]*|/\*.*?\*/", re.S)


def _without_comments(source: str) -> str:
    """Comments blanked out, newlines kept, so positions still match the source."""
    return _COMMENT.sub(lambda m: re.sub(r"[^\n]", " ", m.group()), source)


def _position(text: str, offset: int) -> tuple[int, int]:
    """1-based (line, column) of ``offset``."""
    before = text[:offset]
    line = before.count("\n") + 1
    return line, offset - (before.rfind("\n") + 1) + 1


def _line_of(source: str, needle: str) -> int:
    offset = source.find(needle)
    return 1 if offset < 0 else _position(source, offset)[0]


def _anonymous_result(
    *,
    compile_problem: str | None = None,
    exception: tuple[str, str] | None = None,
    at: tuple[int, int] = (-1, -1),
) -> dict[str, Any]:
    """ExecuteAnonymousResult, keys in the documented order; line and column are -1
    when there is nothing to point at."""
    line, column = at if (compile_problem or exception) else (-1, -1)
    return {
        "line": line,
        "column": column,
        "compiled": compile_problem is None,
        "success": compile_problem is None and exception is None,
        "compileProblem": compile_problem,
        "exceptionStackTrace": exception[1] if exception else None,
        "exceptionMessage": exception[0] if exception else None,
    }
