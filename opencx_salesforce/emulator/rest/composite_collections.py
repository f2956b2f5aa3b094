"""sObject Collections: up to 200 records in one call (v42.0+).

* ``POST   /composite/sobjects`` — create; records of any types, each with
  ``attributes.type`` and no Id.
* ``PATCH  /composite/sobjects`` — update; each record carries its ``id``.
* ``PATCH  /composite/sobjects/{SObject}/{ExternalIdField}`` — upsert (v46.0+);
  records of that one type, matched on the external ID value in each body.
* ``GET    /composite/sobjects/{SObject}?ids=...&fields=...`` and ``POST`` with
  ``{"ids", "fields"}`` (up to 2,000 Ids) — retrieve; an Id that matches nothing
  answers null in its place.
* ``DELETE /composite/sobjects?ids=...&allOrNone=...`` — delete; Ids of any types.

A well-formed request answers 200 with one result per record in input order —
``{"id", "success", "errors": [{"statusCode", "message", "fields"}]}`` (SaveResult;
an upsert adds ``created``); a malformed one 400. With ``allOrNone`` true, one
failure rolls every record back: the failing record keeps its error, every other
one answers ALL_OR_NONE_OPERATION_ROLLED_BACK. Records of several types are saved
in chunks, a new chunk at each change of type, at most 10 chunks. The call counts
as one API request.
[src: api_rest resources_composite_sobjects_collections_create.htm, _update.htm,
_upsert.htm, _retrieve.htm, _delete.htm (their examples give the bodies quoted
here); SALESFORCE.md §3]

More than 200 records: 400 EXCEEDED_ID_LIMIT "record limit reached. cannot submit
more than 200 records into this call" (recorded by several client libraries).
Wording of the other request-level rejections is UNCONFIRMED.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from opencx_salesforce.emulator.ids import is_valid_id, to18
from opencx_salesforce.emulator.org import Org
from opencx_salesforce.emulator.rest.composite import bad_request
from opencx_salesforce.emulator.rest.composite_tree import save_errors
from opencx_salesforce.emulator.rest.dispatch import (
    RestRequest,
    RestResponse,
    Route,
    path_param,
)
from opencx_salesforce.emulator.rest.errors import ApiError, not_found
from opencx_salesforce.emulator.rest.sobjects import data_object, record_json, requested_fields
from opencx_salesforce.emulator.schema import FieldDef, SObjectDef

COLLECTIONS_MIN_VERSION = 42.0
UPSERT_MIN_VERSION = 46.0
MAX_RECORDS = 200
MAX_CHUNKS = 10
# POST retrieve takes up to 2,000 Ids. [src: resources_composite_sobjects_collections_retrieve.htm]
MAX_RETRIEVE_IDS = 2000

ROLLED_BACK = {
    "statusCode": "ALL_OR_NONE_OPERATION_ROLLED_BACK",
    "message": "Record rolled back because not all records were valid and the request was "
    "using AllOrNone header",
    "fields": [],
}


def _too_many() -> ApiError:
    return ApiError.one(
        400,
        "EXCEEDED_ID_LIMIT",
        "record limit reached. cannot submit more than 200 records into this call",
    )


def _error(status_code: str, message: str, fields: list[str] | None = None) -> dict[str, Any]:
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


def _guarded(operation: Callable[[], Saved]) -> Saved:
    try:
        return operation()
    except ApiError as error:
        raise RecordFailure(save_errors(error)) from None


# --- request parsing ---------------------------------------------------------------------


def _check_version(request: RestRequest, minimum: float = COLLECTIONS_MIN_VERSION) -> None:
    if request.api_version < minimum:
        raise not_found()


def _records(request: RestRequest) -> tuple[list[dict[str, Any]], bool]:
    body = request.body
    if not isinstance(body, dict):
        raise bad_request("The request body must be a JSON object with a records array")
    records = body.get("records")
    all_or_none = body.get("allOrNone", False)
    if not isinstance(records, list) or not isinstance(all_or_none, bool):
        raise bad_request("records must be an array and allOrNone true or false")
    if len(records) > MAX_RECORDS:
        raise _too_many()
    for record in records:
        attributes = record.get("attributes") if isinstance(record, dict) else None
        if not isinstance(attributes, dict) or not isinstance(attributes.get("type"), str):
            # "Each object must contain an attributes map. The map must contain a
            # value for type." [src: collections create/update docs]
            raise bad_request("Each record needs an attributes map with a type")
    types = [record["attributes"]["type"].lower() for record in records]
    chunks = sum(1 for i, name in enumerate(types) if i == 0 or name != types[i - 1])
    if chunks > MAX_CHUNKS:
        # "A single request can process up to 10 chunks." [src: collections create doc]
        raise bad_request(
            f"The records form {chunks} chunks of object types; at most {MAX_CHUNKS} are "
            "allowed in one request.",
            "LIMIT_EXCEEDED",
        )
    return records, all_or_none


def _fields_of(record: dict[str, Any], *drop: str) -> dict[str, Any]:
    dropped = {"attributes", *(name.lower() for name in drop)}
    return {key: value for key, value in record.items() if key.lower() not in dropped}


def _value(record: dict[str, Any], name: str) -> Any:
    for key, value in record.items():
        if key.lower() == name.lower():
            return value
    return None


def _object(org: Org, type_name: str) -> SObjectDef:
    obj = org.schema.get(type_name)
    if obj is None or not obj.data_api:
        # UNCONFIRMED wording (the SOQL form of INVALID_TYPE).
        raise RecordFailure(
            [_error("INVALID_TYPE", f"sObject type '{type_name}' is not supported.")]
        )
    return obj


def _malformed_id(obj: SObjectDef, value: Any) -> RecordFailure:
    # "Contact ID: id value of incorrect type: 001xx000003DGb2999", fields ["Id"].
    # [src: resources_composite_sobjects_collections_update.htm example]
    label = "Record" if obj.custom else obj.name
    return RecordFailure(
        [_error("MALFORMED_ID", f"{label} ID: id value of incorrect type: {value}", ["Id"])]
    )


# --- create / update / upsert / delete ---------------------------------------------------------


async def create(request: RestRequest) -> RestResponse:
    """POST: create; ``id`` must not be set. [src: collections create doc]"""
    _check_version(request)
    records, all_or_none = _records(request)
    org, user_id = request.org, request.principal.user_id

    def operation(record: dict[str, Any]) -> Operation:
        def save() -> Saved:
            obj = _object(org, record["attributes"]["type"])
            return _guarded(lambda: Saved(_created(org, obj, record, user_id), None))

        return save

    results = run(org, [operation(record) for record in records], all_or_none=all_or_none)
    return RestResponse(200, results)


def _created(org: Org, obj: SObjectDef, record: dict[str, Any], user_id: str) -> dict[str, Any]:
    record_id = org.create(obj.name, _fields_of(record), user_id=user_id)
    return {"id": record_id, "success": True, "errors": []}


async def update(request: RestRequest) -> RestResponse:
    """PATCH: update; each record carries ``id``. [src: collections update doc]"""
    _check_version(request)
    records, all_or_none = _records(request)
    org, user_id = request.org, request.principal.user_id

    def operation(record: dict[str, Any]) -> Operation:
        def save() -> Saved:
            obj = _object(org, record["attributes"]["type"])
            raw_id = _value(record, "id")
            if raw_id is None:
                # UNCONFIRMED wording (the SOAP API's for an update without Id).
                raise RecordFailure(
                    [_error("MISSING_ARGUMENT", "Id not specified in an update call", [])]
                )
            if not isinstance(raw_id, str) or not is_valid_id(raw_id, obj.key_prefix):
                raise _malformed_id(obj, raw_id)
            record_id = to18(raw_id)

            def apply() -> Saved:
                org.update(obj.name, record_id, _fields_of(record, "id"), user_id=user_id)
                return Saved({"id": record_id, "success": True, "errors": []}, record_id)

            return _guarded(apply)

        return save

    results = run(org, [operation(record) for record in records], all_or_none=all_or_none)
    return RestResponse(200, results)


def _external_id_field(obj: SObjectDef, name: str) -> FieldDef:
    item = obj.field(name)
    if item is None or not (item.external_id or item.id_lookup):
        # As the single-record upsert answers an unknown key field.
        raise not_found(f"Provided external ID field does not exist or is not accessible: {name}")
    if item.name == "Id":
        # "Only external IDs are supported; don't use record IDs." [src: collections
        # upsert doc] Wording UNCONFIRMED.
        raise bad_request("Upsert by sObject Collections takes an external ID field, not Id")
    return item


async def upsert(request: RestRequest) -> RestResponse:
    """PATCH /{SObject}/{ExternalIdField}: each record's external ID value picks
    insert (``created: true``) or update (``created: false``). [src: collections
    upsert doc; SALESFORCE.md §4]"""
    _check_version(request, UPSERT_MIN_VERSION)
    org, user_id = request.org, request.principal.user_id
    obj = data_object(org, path_param(request, "sobject"))
    key = _external_id_field(obj, path_param(request, "ext_field"))
    records, all_or_none = _records(request)
    for record in records:
        if record["attributes"]["type"].lower() != obj.name.lower():
            # "The list can contain only objects of the type specified in the request
            # URI." [src: collections upsert doc] Wording UNCONFIRMED.
            raise bad_request(
                f"Every record must be of type {obj.name}, the type in the request URI",
                "INVALID_TYPE",
            )

    def operation(record: dict[str, Any]) -> Operation:
        def save() -> Saved:
            value = _value(record, key.name)
            if value is None or value == "":
                # UNCONFIRMED wording.
                raise RecordFailure(
                    [_error("MISSING_ARGUMENT", f"{key.name} not specified", [key.name])]
                )
            matches = org.find_by_field(obj.name, key.name, value)
            if len(matches) > 1:
                # UNCONFIRMED wording.
                ids = ", ".join(str(match["Id"]) for match in matches)
                raise RecordFailure(
                    [
                        _error(
                            "DUPLICATE_EXTERNAL_ID",
                            f"{key.name}: more than one record found for external id field: "
                            f"[{ids}]",
                            [key.name],
                        )
                    ]
                )

            def apply() -> Saved:
                if matches:
                    record_id = str(matches[0]["Id"])
                    org.update(obj.name, record_id, _fields_of(record, key.name), user_id=user_id)
                    result = {"id": record_id, "success": True, "errors": [], "created": False}
                    return Saved(result, record_id)
                record_id = org.create(obj.name, _fields_of(record), user_id=user_id)
                return Saved(
                    {"id": record_id, "success": True, "errors": [], "created": True}, None
                )

            return _guarded(apply)

        return save

    results = run(org, [operation(record) for record in records], all_or_none=all_or_none)
    return RestResponse(200, results)


async def delete(request: RestRequest) -> RestResponse:
    """DELETE ?ids=a,b&allOrNone=: Ids of any types. [src: collections delete doc]"""
    _check_version(request)
    raw_ids = request.param("ids")
    if not raw_ids:
        raise bad_request("The ids parameter is required", "MISSING_ARGUMENT")
    ids = [part.strip() for part in raw_ids.split(",") if part.strip()]
    if len(ids) > MAX_RECORDS:
        raise _too_many()
    flag = (request.param("allOrNone") or "false").lower()
    if flag not in ("true", "false"):
        raise bad_request("allOrNone must be true or false")
    org, user_id = request.org, request.principal.user_id

    def operation(raw_id: str) -> Operation:
        def save() -> Saved:
            if not is_valid_id(raw_id):
                # [src: collections delete doc example: "malformed id 001RM000003oLrB000"]
                raise RecordFailure([_error("MALFORMED_ID", f"malformed id {raw_id}")])
            record_id = to18(raw_id)
            sobject = org.schema.object_of_id(record_id)
            if sobject is None or not org.schema.objects[sobject].data_api:
                # The validation layer's answer for an Id of no known object.
                raise RecordFailure(
                    [_error("INVALID_CROSS_REFERENCE_KEY", "invalid cross reference id")]
                )

            def apply() -> Saved:
                org.delete(sobject, record_id, user_id=user_id)
                return Saved({"id": record_id, "success": True, "errors": []}, record_id)

            return _guarded(apply)

        return save

    results = run(org, [operation(raw_id) for raw_id in ids], all_or_none=flag == "true")
    return RestResponse(200, results)


# --- retrieve ---------------------------------------------------------------------------------


def _retrieve(request: RestRequest, ids: list[str], fields: list[str]) -> RestResponse:
    obj = data_object(request.org, path_param(request, "sobject"))
    if not ids or not fields:
        # Both are required. [src: collections retrieve doc] Wording UNCONFIRMED.
        raise bad_request("Both ids and fields are required", "MISSING_ARGUMENT")
    with_fields = dataclasses.replace(request, query={"fields": [",".join(fields)]})
    names = requested_fields(with_fields, obj) or []
    body: list[dict[str, Any] | None] = []
    for raw_id in ids:
        record = None
        if is_valid_id(raw_id, obj.key_prefix):
            record = request.org.live(obj.name, raw_id)
        # No access or no such record: null in its place. [src: collections retrieve doc]
        body.append(None if record is None else record_json(request, obj, record, names))
    return RestResponse(200, body)


def _split(value: str | None) -> list[str]:
    return [part.strip() for part in (value or "").split(",") if part.strip()]


async def retrieve(request: RestRequest) -> RestResponse:
    """GET /{SObject}?ids=...&fields=... [src: collections retrieve doc]"""
    _check_version(request)
    return _retrieve(request, _split(request.param("ids")), _split(request.param("fields")))


async def retrieve_by_body(request: RestRequest) -> RestResponse:
    """POST /{SObject} with ``{"ids": [...], "fields": [...]}``, up to 2,000 Ids.
    [src: resources_composite_sobjects_collections_retrieve_post.htm]"""
    _check_version(request)
    body = request.body
    ids = body.get("ids") if isinstance(body, dict) else None
    fields = body.get("fields") if isinstance(body, dict) else None
    if not isinstance(ids, list) or not isinstance(fields, list):
        raise bad_request("The request body must contain ids and fields arrays")
    if not all(isinstance(item, str) for item in [*ids, *fields]):
        raise bad_request("ids and fields must be strings")
    if len(ids) > MAX_RETRIEVE_IDS:
        raise ApiError.one(
            400,
            "EXCEEDED_ID_LIMIT",
            f"record limit reached. cannot submit more than {MAX_RETRIEVE_IDS} records into "
            "this call",
        )
    return _retrieve(request, ids, fields)


ROUTES = [
    Route.of("composite/sobjects", POST=create, PATCH=update, DELETE=delete),
    Route.of("composite/sobjects/(?P<sobject>[^/]+)", GET=retrieve, POST=retrieve_by_body),
    Route.of("composite/sobjects/(?P<sobject>[^/]+)/(?P<ext_field>[^/]+)", PATCH=upsert),
]
