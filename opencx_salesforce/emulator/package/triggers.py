"""What the generated triggers do with one write, filter for filter, and the
transaction bookkeeping that turns trigger runs into Queueable jobs."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, Final

from opencx_salesforce.apex import contract, names
from opencx_salesforce.emulator.package.model import Doorbell, apex_equals, contract_time

if TYPE_CHECKING:
    from opencx_salesforce.emulator.org import Org, Record
    from opencx_salesforce.emulator.org_changes import Change

TRIGGER_FOR: Final = {
    (table, event): trigger
    for trigger, (table, events) in names.TRIGGERS.items()
    for event in events
}
TRIGGER_TABLES: Final = frozenset(table for table, _event in TRIGGER_FOR)
# EmailMessage.Status '5' is Draft. [src: emulator/schema.py EMAIL_STATUSES]
EMAIL_STATUS_DRAFT: Final = "5"


@dataclass(eq=False)
class Job:
    bells: list[Doorbell] = field(default_factory=list)


@dataclass(eq=False)
class Write:
    """A write seen in an open transaction: the record as stored, and what it rang."""

    after: Record | None
    bells: list[Doorbell] = field(default_factory=list)


@dataclass(eq=False)
class Transaction:
    jobs: list[Job] = field(default_factory=list)
    rung: set[str] = field(default_factory=set)  # the Apex's rungThisTransaction
    history: dict[tuple[str, str], list[Write]] = field(default_factory=dict)
    run: tuple[str, str] | None = None  # (sObject, operation) of the current trigger run
    job: Job | None = None  # the current run's job


def operation_of(change: Change) -> str:
    """insert, update or delete: which trigger event a write fires."""
    if change.before is None:
        return "insert"
    after = change.after or {}
    if after.get("IsDeleted") and not change.before.get("IsDeleted"):
        return "delete"
    return "update"


def task_key() -> int:
    """Which transaction a write belongs to: the asyncio task making it."""
    try:
        task = asyncio.current_task()
    except RuntimeError:
        return 0
    return id(task) if task is not None else 0


def bells_for(change: Change, org: Org, case_from_value: str, now: datetime) -> list[Doorbell]:
    """The doorbells the package's trigger rings for ``change``, filter for filter as
    the generated class (``OpenSalesforceCaseManagement.cls.j2``) does."""
    record = change.after or {}
    prior = change.before
    operation = operation_of(change)
    ring = _Ring(org, case_from_value, now)
    if change.sobject == "CaseComment":
        published = record.get("IsPublished") is True
        if operation == "insert" and published:
            # onCaseCommentsInserted: published comments on OpenCX Cases.
            return ring.child(contract.EVENT_CASE_COMMENT_CREATED, record, "CreatedDate")
        if operation == "update" and published and prior and prior.get("IsPublished") is not True:
            # onCaseCommentsUpdated: IsPublished switched on.
            return ring.child(contract.EVENT_CASE_COMMENT_PUBLISHED, record, "LastModifiedDate")
    elif change.sobject == "EmailMessage" and record.get("Incoming") is not True:
        is_draft = record.get("Status") == EMAIL_STATUS_DRAFT
        if operation == "insert" and not is_draft:
            # onEmailMessagesInserted: outgoing, not a draft, on an OpenCX Case.
            return ring.child(contract.EVENT_EMAIL_MESSAGE_CREATED, record, "CreatedDate")
        was_draft = prior is not None and prior.get("Status") == EMAIL_STATUS_DRAFT
        if operation == "update" and was_draft and not is_draft:
            # onEmailMessagesUpdated: a draft left the draft state (was sent).
            return ring.child(contract.EVENT_EMAIL_MESSAGE_SENT, record, "LastModifiedDate")
    elif change.sobject == "Case" and prior is not None:
        opencx = apex_equals(record.get(names.CASE_FROM_FIELD), case_from_value)
        if operation == "delete" and opencx:
            # onCasesDeleted: Trigger.old, MasterRecordId set when it lost a merge.
            return [
                Doorbell(
                    contract.EVENT_CASE_DELETED,
                    record["Id"],
                    record["Id"],
                    now.strftime(contract.OCCURRED_AT_STRFTIME),
                    master_record_id=record.get("MasterRecordId"),
                )
            ]
        # onCasesUpdated: Status or IsClosed changed, Case_From__c the package's.
        changed = not apex_equals(record.get("Status"), prior.get("Status")) or (
            record.get("IsClosed") != prior.get("IsClosed")
        )
        if operation == "update" and changed and opencx:
            return [
                Doorbell(
                    contract.EVENT_CASE_UPDATED,
                    record["Id"],
                    record["Id"],
                    contract_time(record.get("LastModifiedDate"), now),
                )
            ]
    return []


@dataclass(frozen=True)
class _Ring:
    org: Org
    case_from_value: str
    now: datetime

    def child(self, event: str, record: Record, stamp: str) -> list[Doorbell]:
        """A ring for a Case's comment or email when the parent is an OpenCX Case."""
        parent = record.get("ParentId")
        if not parent or not is_opencx(self.org, parent, self.case_from_value):
            return []
        return [Doorbell(event, parent, record["Id"], contract_time(record.get(stamp), self.now))]


def is_opencx(org: Org, case_id: Any, case_from_value: str) -> bool:
    """The trigger's query: SELECT Id FROM Case WHERE Id IN :ids AND
    Case_From__c = :CASE_FROM (SOQL text comparison is case-insensitive)."""
    case = org.live("Case", case_id) if isinstance(case_id, str) else None
    return case is not None and apex_equals(case.get(names.CASE_FROM_FIELD), case_from_value)
