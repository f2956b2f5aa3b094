"""Running the records of an sObject Collections request in order: each
record's result or SaveResult errors, and with ``allOrNone`` one failure rolling
every record back (ALL_OR_NONE_OPERATION_ROLLED_BACK).
[src: api_rest resources_composite_sobjects_collections_create.htm examples]"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from opencx_salesforce.emulator.org import Org
from opencx_salesforce.emulator.rest.composite_tree import save_errors
from opencx_salesforce.emulator.rest.errors import ApiError

ROLLED_BACK = {
    "statusCode": "ALL_OR_NONE_OPERATION_ROLLED_BACK",
    "message": "Record rolled back because not all records were valid and the request was "
    "using AllOrNone header",
    "fields": [],
}


def save_error(status_code: str, message: str, fields: list[str] | None = None) -> dict[str, Any]:
    return {"statusCode": status_code, "message": message, "fields": fields or []}


class RecordFailure(Exception):
    """One record's errors, as SaveResult errors."""

    def __init__(self, errors: list[dict[str, Any]]) -> None:
        super().__init__(errors[0]["message"] if errors else "")
        self.errors = errors


@dataclass
class Saved:
    """A record saved; ``rollback_id`` is what a rolled-back result still shows
    (the Id the client sent, never the Id of a rolled-back insert)."""

    result: dict[str, Any]
    rollback_id: str | None


Operation = Callable[[], Saved]


def run(org: Org, operations: list[Operation], *, all_or_none: bool) -> list[dict[str, Any]]:
    """Run ``operations`` in order; with ``all_or_none`` a failure rolls them all
    back. [src: resources_composite_sobjects_collections_create.htm examples]"""
    snapshot = org.snapshot()
    outcomes: list[Saved | RecordFailure] = []
    for operation in operations:
        try:
            outcomes.append(operation())
        except RecordFailure as failure:
            outcomes.append(failure)
    any_failed = any(isinstance(outcome, RecordFailure) for outcome in outcomes)
    if all_or_none and any_failed:
        org.restore(snapshot)
    results: list[dict[str, Any]] = []
    for outcome in outcomes:
        if isinstance(outcome, RecordFailure):
            results.append({"success": False, "errors": outcome.errors})
        elif all_or_none and any_failed:
            rolled: dict[str, Any] = {}
            if outcome.rollback_id is not None:
                rolled["id"] = outcome.rollback_id
            results.append({**rolled, "success": False, "errors": [dict(ROLLED_BACK)]})
        else:
            results.append(outcome.result)
    return results


def guarded(operation: Callable[[], Saved]) -> Saved:
    try:
        return operation()
    except ApiError as error:
        raise RecordFailure(save_errors(error)) from None
