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
    from opencx_salesforce.emulator.org import Change, Org, Record

TRIGGER_FOR: Final = {
    (table, event): trigger
    for trigger, (table, events) in names.TRIGGERS.items()
    for event in events
}
TRIGGER_TABLES: Final = frozenset(table for table, _event in TRIGGER_FOR)


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
    """The doorbells the package's trigger rings for ``change``."""
    record = change.after or {}
    if change.sobject == "CaseComment":
        # onCaseCommentsInserted: published comments on OpenCX Cases.
        if record.get("IsPublished") is True and is_opencx(
            org, record.get("ParentId"), case_from_value
        ):
            return [
                Doorbell(
                    contract.EVENT_CASE_COMMENT_CREATED,
                    record["ParentId"],
                    record["Id"],
                    contract_time(record.get("CreatedDate"), now),
                )
            ]
    elif change.sobject == "EmailMessage":
        # onEmailMessagesInserted: Incoming != true, a parent, an OpenCX Case.
        parent = record.get("ParentId")
        if (
            record.get("Incoming") is not True
            and parent
            and is_opencx(org, parent, case_from_value)
        ):
            return [
                Doorbell(
                    contract.EVENT_EMAIL_MESSAGE_CREATED,
                    parent,
                    record["Id"],
                    contract_time(record.get("CreatedDate"), now),
                )
            ]
    elif change.sobject == "Case" and change.before is not None:
        # onCasesUpdated: Status or IsClosed changed, Case_From__c the package's.
        prior = change.before
        changed = not apex_equals(record.get("Status"), prior.get("Status")) or (
            record.get("IsClosed") != prior.get("IsClosed")
        )
        opencx = apex_equals(record.get(names.CASE_FROM_FIELD), case_from_value)
        if changed and opencx:
            return [
                Doorbell(
                    contract.EVENT_CASE_UPDATED,
                    record["Id"],
                    record["Id"],
                    contract_time(record.get("LastModifiedDate"), now),
                )
            ]
    return []


def is_opencx(org: Org, case_id: Any, case_from_value: str) -> bool:
    """The trigger's query: SELECT Id FROM Case WHERE Id IN :ids AND
    Case_From__c = :CASE_FROM (SOQL text comparison is case-insensitive)."""
    case = org.live("Case", case_id) if isinstance(case_id, str) else None
    return case is not None and apex_equals(case.get(names.CASE_FROM_FIELD), case_from_value)
