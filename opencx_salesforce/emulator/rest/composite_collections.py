"""sObject Collections: up to 200 records in one call (v42.0+).

This module holds create, update, upsert and delete; the request checks are in
``composite_collections_request.py``, running records with ``allOrNone`` in
``composite_collections_batch.py``, retrieve in ``composite_collections_retrieve.py``.

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

from typing import Any

from opencx_salesforce.emulator.ids import is_valid_id, to18
from opencx_salesforce.emulator.org import Org
from opencx_salesforce.emulator.rest.composite import bad_request
from opencx_salesforce.emulator.rest.composite_collections_batch import (
    Operation,
    RecordFailure,
    Saved,
    guarded,
    run,
    save_error,
)
from opencx_salesforce.emulator.rest.composite_collections_request import (
    MAX_RECORDS,
    UPSERT_MIN_VERSION,
    check_version,
    request_records,
    too_many,
)
from opencx_salesforce.emulator.rest.dispatch import (
    RestRequest,
    RestResponse,
    Route,
    path_param,
)
from opencx_salesforce.emulator.rest.errors import not_found
from opencx_salesforce.emulator.rest.sobjects import data_object
from opencx_salesforce.emulator.schema import FieldDef, SObjectDef


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
            [save_error("INVALID_TYPE", f"sObject type '{type_name}' is not supported.")]
        )
    return obj


def _malformed_id(obj: SObjectDef, value: Any) -> RecordFailure:
    # "Contact ID: id value of incorrect type: 001xx000003DGb2999", fields ["Id"].
    # [src: resources_composite_sobjects_collections_update.htm example]
    label = "Record" if obj.custom else obj.name
    return RecordFailure(
        [save_error("MALFORMED_ID", f"{label} ID: id value of incorrect type: {value}", ["Id"])]
    )


# --- create / update / upsert / delete ---------------------------------------------------------


async def create(request: RestRequest) -> RestResponse:
    """POST: create; ``id`` must not be set. [src: collections create doc]"""
    check_version(request)
    records, all_or_none = request_records(request)
    org, user_id = request.org, request.principal.user_id

    def operation(record: dict[str, Any]) -> Operation:
        def save() -> Saved:
            obj = _object(org, record["attributes"]["type"])
            return guarded(lambda: Saved(_created(org, obj, record, user_id), None))

        return save

    results = run(org, [operation(record) for record in records], all_or_none=all_or_none)
    return RestResponse(200, results)


def _created(org: Org, obj: SObjectDef, record: dict[str, Any], user_id: str) -> dict[str, Any]:
    record_id = org.create(obj.name, _fields_of(record), user_id=user_id)
    return {"id": record_id, "success": True, "errors": []}


async def update(request: RestRequest) -> RestResponse:
    """PATCH: update; each record carries ``id``. [src: collections update doc]"""
    check_version(request)
    records, all_or_none = request_records(request)
    org, user_id = request.org, request.principal.user_id

    def operation(record: dict[str, Any]) -> Operation:
        def save() -> Saved:
            obj = _object(org, record["attributes"]["type"])
            raw_id = _value(record, "id")
            if raw_id is None:
                # UNCONFIRMED wording (the SOAP API's for an update without Id).
                raise RecordFailure(
                    [save_error("MISSING_ARGUMENT", "Id not specified in an update call", [])]
                )
            if not isinstance(raw_id, str) or not is_valid_id(raw_id, obj.key_prefix):
                raise _malformed_id(obj, raw_id)
            record_id = to18(raw_id)

            def apply() -> Saved:
                org.update(obj.name, record_id, _fields_of(record, "id"), user_id=user_id)
                return Saved({"id": record_id, "success": True, "errors": []}, record_id)

            return guarded(apply)

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
    check_version(request, UPSERT_MIN_VERSION)
    org, user_id = request.org, request.principal.user_id
    obj = data_object(org, path_param(request, "sobject"))
    key = _external_id_field(obj, path_param(request, "ext_field"))
    records, all_or_none = request_records(request)
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
                    [save_error("MISSING_ARGUMENT", f"{key.name} not specified", [key.name])]
                )
            matches = org.find_by_field(obj.name, key.name, value)
            if len(matches) > 1:
                # UNCONFIRMED wording.
                ids = ", ".join(str(match["Id"]) for match in matches)
                raise RecordFailure(
                    [
                        save_error(
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

            return guarded(apply)

        return save

    results = run(org, [operation(record) for record in records], all_or_none=all_or_none)
    return RestResponse(200, results)


async def delete(request: RestRequest) -> RestResponse:
    """DELETE ?ids=a,b&allOrNone=: Ids of any types. [src: collections delete doc]"""
    check_version(request)
    raw_ids = request.param("ids")
    if not raw_ids:
        raise bad_request("The ids parameter is required", "MISSING_ARGUMENT")
    ids = [part.strip() for part in raw_ids.split(",") if part.strip()]
    if len(ids) > MAX_RECORDS:
        raise too_many()
    flag = (request.param("allOrNone") or "false").lower()
    if flag not in ("true", "false"):
        raise bad_request("allOrNone must be true or false")
    org, user_id = request.org, request.principal.user_id

    def operation(raw_id: str) -> Operation:
        def save() -> Saved:
            if not is_valid_id(raw_id):
                # [src: collections delete doc example: "malformed id 001RM000003oLrB000"]
                raise RecordFailure([save_error("MALFORMED_ID", f"malformed id {raw_id}")])
            record_id = to18(raw_id)
            sobject = org.schema.object_of_id(record_id)
            if sobject is None or not org.schema.objects[sobject].data_api:
                # The validation layer's answer for an Id of no known object.
                raise RecordFailure(
                    [save_error("INVALID_CROSS_REFERENCE_KEY", "invalid cross reference id")]
                )

            def apply() -> Saved:
                org.delete(sobject, record_id, user_id=user_id)
                return Saved({"id": record_id, "success": True, "errors": []}, record_id)

            return guarded(apply)

        return save

    results = run(org, [operation(raw_id) for raw_id in ids], all_or_none=flag == "true")
    return RestResponse(200, results)


ROUTES = [
    Route.of("composite/sobjects", POST=create, PATCH=update, DELETE=delete),
    Route.of("composite/sobjects/(?P<sobject>[^/]+)/(?P<ext_field>[^/]+)", PATCH=upsert),
]
