"""sObject Tree: ``POST /services/data/vXX.X/composite/tree/{SObject}`` creates one
or more record trees whose roots are of that type, in one call.

Children sit under their parent keyed by the child relationship name (a Case's
comments under ``CaseComments``) as ``{"records": [...]}``; the platform sets the
child's lookup to its parent. Every record carries ``attributes: {type,
referenceId}``; referenceIds are unique in the request and begin with a letter or
a number. At most 200 records in all, 5 record types, 5 levels.
[src: api_rest resources_composite_sobject_tree.htm "sObject Tree";
requests_composite_sobject_tree.htm; dome_composite_sobject_tree_create.htm]

Records are created level by level — all roots, then every second-level record,
and so on (triggers fire per such group) — and the results list them in that
order, as the doc's example does. Any error fails the whole request: nothing is
created and 400 ``{"hasErrors": true, "results": [{"referenceId", "errors":
[{"statusCode", "message", "fields"}]}]}`` lists only the records in error (note
``statusCode``, not ``errorCode``). Success is 201 ``{"hasErrors": false,
"results": [{"referenceId", "id"}]}``. [src: responses_composite_sobject_tree.htm]

Exceeding a limit, or a body that isn't a tree, is answered 400 with a plain error
array before anything is created (wording UNCONFIRMED).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from opencx_salesforce.emulator.org import Org
from opencx_salesforce.emulator.rest.composite import REFERENCE_ID, bad_request
from opencx_salesforce.emulator.rest.dispatch import (
    RestRequest,
    RestResponse,
    Route,
    path_param,
)
from opencx_salesforce.emulator.rest.errors import ApiError
from opencx_salesforce.emulator.rest.sobjects import data_object
from opencx_salesforce.emulator.schema import SObjectDef

MAX_RECORDS = 200
MAX_TYPES = 5
MAX_LEVELS = 5


@dataclass
class TreeRecord:
    reference_id: str
    sobject: str  # canonical object name
    values: dict[str, Any]
    level: int
    parent: TreeRecord | None = None
    parent_field: str | None = None  # this record's lookup to its parent
    record_id: str | None = None
    children: list[TreeRecord] = field(default_factory=list)


def save_errors(error: ApiError) -> list[dict[str, Any]]:
    """REST error items as SaveResult errors: ``statusCode`` instead of
    ``errorCode``, ``fields`` always present. [src: responses_composite_sobject_tree.htm]"""
    return [
        {
            "statusCode": item.get("errorCode"),
            "message": item.get("message"),
            "fields": list(item.get("fields") or []),
        }
        for item in error.body
    ]


class TreeParser:
    """Turns the request body into :class:`TreeRecord` objects, checking shape and
    limits."""

    def __init__(self, org: Org) -> None:
        self.org = org
        self.records: list[TreeRecord] = []

    def parse(self, body: Any, root: SObjectDef) -> list[TreeRecord]:
        roots = self._collection(body, root.name, level=1, parent=None, parent_field=None)
        if len(self.records) > MAX_RECORDS:
            raise bad_request(
                f"The request can't contain more than {MAX_RECORDS} records.", "LIMIT_EXCEEDED"
            )
        if len({record.sobject for record in self.records}) > MAX_TYPES:
            raise bad_request(
                f"The request can't contain more than {MAX_TYPES} record types.",
                "LIMIT_EXCEEDED",
            )
        return roots

    def _collection(
        self,
        collection: Any,
        sobject: str,
        *,
        level: int,
        parent: TreeRecord | None,
        parent_field: str | None,
    ) -> list[TreeRecord]:
        items = collection.get("records") if isinstance(collection, dict) else None
        if not isinstance(items, list):
            raise bad_request("A record collection must be an object with a records array")
        if level > MAX_LEVELS:
            raise bad_request(
                f"The request can't contain trees deeper than {MAX_LEVELS} levels.",
                "LIMIT_EXCEEDED",
            )
        return [
            self._record(item, sobject, level=level, parent=parent, parent_field=parent_field)
            for item in items
        ]

    def _record(
        self,
        raw: Any,
        sobject: str,
        *,
        level: int,
        parent: TreeRecord | None,
        parent_field: str | None,
    ) -> TreeRecord:
        if not isinstance(raw, dict) or not isinstance(raw.get("attributes"), dict):
            raise bad_request("Each record needs an attributes map with type and referenceId")
        attributes = raw["attributes"]
        type_name, reference_id = attributes.get("type"), attributes.get("referenceId")
        if not isinstance(type_name, str) or not isinstance(reference_id, str):
            raise bad_request("Each record's attributes need a type and a referenceId")
        if type_name.lower() != sobject.lower():
            # Roots match the URL's object; children the relationship's object.
            raise bad_request(
                f"The record {reference_id} has type {type_name}; expected {sobject}",
                "INVALID_TYPE",
            )
        obj = self.org.schema.objects[sobject]
        record = TreeRecord(reference_id, sobject, {}, level, parent, parent_field)
        self.records.append(record)
        for key, value in raw.items():
            if key == "attributes":
                continue
            relation = _child_relationship(obj, key) if isinstance(value, dict) else None
            if relation is None:
                record.values[key] = value
                continue
            child_sobject, lookup = relation
            record.children.extend(
                self._collection(
                    value, child_sobject, level=level + 1, parent=record, parent_field=lookup
                )
            )
        return record


def _child_relationship(obj: SObjectDef, name: str) -> tuple[str, str] | None:
    lowered = name.lower()
    for relation in obj.child_relationships:
        if (relation.relationship_name or "").lower() == lowered:
            return relation.child_sobject, relation.field
    return None


def _reference_id_errors(records: list[TreeRecord]) -> list[dict[str, Any]]:
    """One result per duplicate instance and per malformed referenceId.
    [src: responses_composite_sobject_tree.htm results] statusCode and message
    UNCONFIRMED."""
    counts = Counter(record.reference_id for record in records)
    results = []
    for record in records:
        if counts[record.reference_id] > 1:
            message = f"Duplicate ReferenceId provided in the request: {record.reference_id}"
        elif REFERENCE_ID.fullmatch(record.reference_id) is None:
            message = (
                f"Invalid referenceId ('{record.reference_id}'): it must begin with a letter "
                "or a number and contain only letters, numbers and underscores"
            )
        else:
            continue
        error = {"statusCode": "INVALID_INPUT", "message": message, "fields": []}
        results.append({"referenceId": record.reference_id, "errors": [error]})
    return results


def _levels(roots: list[TreeRecord]) -> list[list[TreeRecord]]:
    levels: list[list[TreeRecord]] = []
    current = roots
    while current:
        levels.append(current)
        current = [child for record in current for child in record.children]
    return levels


def _failure(results: list[dict[str, Any]]) -> RestResponse:
    return RestResponse(400, {"hasErrors": True, "results": results})


async def create_tree(request: RestRequest) -> RestResponse:
    org = request.org
    root = data_object(org, path_param(request, "sobject"))
    parser = TreeParser(org)
    roots = parser.parse(request.body, root)
    bad_ids = _reference_id_errors(parser.records)
    if bad_ids:
        return _failure(bad_ids)
    snapshot = org.snapshot()
    created: list[dict[str, Any]] = []
    for level in _levels(roots):
        errors: list[dict[str, Any]] = []
        for record in level:
            values = dict(record.values)
            if record.parent is not None and record.parent_field is not None:
                values[record.parent_field] = record.parent.record_id
            try:
                record.record_id = org.create(
                    record.sobject, values, user_id=request.principal.user_id
                )
            except ApiError as error:
                errors.append({"referenceId": record.reference_id, "errors": save_errors(error)})
                continue
            created.append({"referenceId": record.reference_id, "id": record.record_id})
        if errors:
            org.restore(snapshot)
            return _failure(errors)
    return RestResponse(201, {"hasErrors": False, "results": created})


ROUTES = [Route.of("composite/tree/(?P<sobject>[^/]+)", POST=create_tree)]
