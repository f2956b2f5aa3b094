"""The package's Apex running in one org: the triggers hear the org's writes, a
transaction's doorbells become Queueable jobs at commit (see the package docstring)."""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Iterator, Mapping
from dataclasses import asdict
from typing import TYPE_CHECKING, Any

from opencx_salesforce.apex import names
from opencx_salesforce.emulator.package.anonymous import AnonymousApex
from opencx_salesforce.emulator.package.deployment import Deployment, deployment_of, is_active
from opencx_salesforce.emulator.package.digest import EmulatedDigest
from opencx_salesforce.emulator.package.model import (
    LOG_LENGTH,
    MAX_JOBS_PER_TRANSACTION,
    SKIPPED,
    CalloutRecord,
    PackageFaults,
    WebhookCounters,
)
from opencx_salesforce.emulator.package.triggers import (
    TRIGGER_FOR,
    TRIGGER_TABLES,
    Job,
    Transaction,
    Write,
    bells_for,
    operation_of,
    task_key,
)
from opencx_salesforce.emulator.rest.dispatch import Route

if TYPE_CHECKING:
    from opencx_salesforce.emulator.org import Org
    from opencx_salesforce.emulator.org_changes import Change

_logger = logging.getLogger(__name__)


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


class ApexRuntime(AnonymousApex):
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
        self._open: dict[int, Transaction] = {}
        self._commit_scheduled = False
        self._tasks: set[asyncio.Task[None]] = set()
        self._retry_tasks: set[asyncio.Task[None]] = set()  # waiting for their delay
        self._last_job: asyncio.Task[None] | None = None
        self._closed = False
        # OpenCXDigest, once anonymous Apex starts it (emulator/package/digest.py).
        self.digest = EmulatedDigest(self)
        org.listeners.append(self)
        org.add_rest_route(Route.of("tooling/executeAnonymous", GET=self._execute_anonymous))

    # --- what the org holds -----------------------------------------------------------------

    def deployment(self) -> Deployment:
        return deployment_of(self.org)

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
        if change.sobject not in TRIGGER_TABLES:
            return
        operation = operation_of(change)
        tx = self._transaction()
        write = Write(change.after)
        tx.history.setdefault((change.sobject, change.record_id), []).append(write)
        if tx.run != (change.sobject, operation):
            tx.run, tx.job = (change.sobject, operation), None
        trigger = TRIGGER_FOR.get((change.sobject, f"after {operation}"))
        if trigger is None or not is_active(self.org, "ApexTrigger", trigger):
            return
        if not is_active(self.org, "ApexClass", names.CALLOUT_CLASS):
            return  # a trigger whose class is gone cannot run
        fresh = [
            bell
            for bell in bells_for(
                change, self.org, self.case_from_value, self.org.state.clock.utcnow()
            )
            if bell.key not in tx.rung
        ]
        if not fresh:
            return
        tx.rung.update(bell.key for bell in fresh)
        if tx.job is None:
            if len(tx.jobs) >= MAX_JOBS_PER_TRANSACTION:
                # The Apex leaves these to the plugin's reconciliation sweep.
                for bell in fresh:
                    self.counters.skipped += 1
                    self.record(bell, SKIPPED, error="Queueable job limit reached")
                return
            tx.job = Job()
            tx.jobs.append(tx.job)
        tx.job.bells.extend(fresh)
        write.bells.extend(fresh)

    # --- transactions -------------------------------------------------------------------------

    def _transaction(self) -> Transaction:
        key = task_key()
        tx = self._open.get(key)
        if tx is None:
            tx = self._open[key] = Transaction()
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
        tx = self._open.get(task_key())
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
                self.enqueue(job.bells)

    async def drain(self) -> None:
        """Commit what is pending and wait until every job has run (tests, shutdown);
        not a retry job still waiting for its delay (the org's clock must reach it)."""
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
        await self.digest.close()
        tasks = self._tasks | self._retry_tasks
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.wait(tasks)

    def stats(self) -> dict[str, Any]:
        return {
            "package": self.deployment().as_dict(),
            "webhooks": asdict(self.counters),
            "digest": self.digest.stats(),
            "faults": self.faults.as_dict(),
        }
