"""sObject Basic Information, sObject Rows and sObject Rows by External ID: create,
retrieve, update, delete and upsert one record.
[src: api_rest resources_sobject_basic_info.htm, resources_sobject_retrieve.htm,
 dome_sobject_create.htm, dome_update_fields.htm, dome_delete_record.htm,
 dome_upsert.htm, resources_sobject_upsert_patch.htm]
"""

from __future__ import annotations

from email.utils import format_datetime as http_format
from typing import Any

from opencx_salesforce.emulator.datetimes import parse_datetime
from opencx_salesforce.emulator.deserialise import parser_error
from opencx_salesforce.emulator.ids import is_valid_id, to18
from opencx_salesforce.emulator.org import Org, Record
from opencx_salesforce.emulator.rest.dispatch import (
    RestRequest,
    RestResponse,
    path_param,
)
from opencx_salesforce.emulator.rest.errors import ApiError, method_not_allowed, not_found
from opencx_salesforce.emulator.schema import FieldDef, SObjectDef
from opencx_salesforce.emulator.validation import reject_fields, validate_write

# The "created" flag in upsert results, and 200 instead of 204 for an update by
# upsert, arrived in API v46.0. [src: SALESFORCE.md §4; dome_upsert.htm]
UPSERT_CREATED_FLAG_VERSION = 46.0
# POST /sobjects/{Type}/Id creates a record (v37.0+). [src: resources_sobject_upsert_post.htm]
CREATE_BY_ID_PATH_VERSION = 37.0


def data_object(org: Org, name: str) -> SObjectDef:
    """The object named in the URL, or 404: "/sobjects/Foo" for an unknown type
    answers NOT_FOUND. [src: SALESFORCE.md §10]"""
    obj = org.schema.get(name)
    if obj is None or not obj.data_api:
        raise not_found()
    return obj


def record_url(request: RestRequest, sobject: str, record_id: str, *, tooling: bool = False) -> str:
    return request.url_for(f"{'tooling/' if tooling else ''}sobjects/{sobject}/{record_id}")


def record_json(
    request: RestRequest,
    obj: SObjectDef,
    record: Record,
    fields: list[str] | None = None,
    *,
    tooling: bool = False,
) -> dict[str, Any]:
    """A record as the REST API returns it: ``attributes`` then its fields."""
    body: dict[str, Any] = {
        "attributes": {
            "type": obj.name,
            "url": record_url(request, obj.name, record["Id"], tooling=tooling),
        }
    }
    names = fields if fields is not None else list(obj.fields)
    for name in names:
        body[name] = record.get(name)
    return body


def requested_fields(request: RestRequest, obj: SObjectDef) -> list[str] | None:
    """The ``?fields=`` list under canonical names; an unknown one is the SOQL
    INVALID_FIELD error (the resource queries the record)."""
    raw = request.param("fields")
    if raw is None:
        return None
    names: list[str] = []
    for part in raw.split(","):
        part = part.strip()
        if not part:
            continue
        item = obj.field(part)
        if item is None:
            # [src: SALESFORCE.md §10 SOQL INVALID_FIELD recorded body]
            raise ApiError.one(
                400,
                "INVALID_FIELD",
                f"No such column '{part}' on entity '{obj.name}'. If you are attempting to "
                "use a custom field, be sure to append the '__c' after the custom field "
                "name. Please reference your WSDL or the describe call for the appropriate "
                "names.",
            )
        names.append(item.name)
    return names


def _malformed_row_id(obj: SObjectDef, value: str) -> ApiError:
    # "Account ID: id value of incorrect type: 001900K0001pPuOAAU", fields ["Id"]
    # [src: recorded REST responses (public code), errorCode MALFORMED_ID]
    label = "Record" if obj.custom else obj.name
    return ApiError.one(
        400,
        "MALFORMED_ID",
        f"{label} ID: id value of incorrect type: {value}",
        ["Id"],
    )


def _unknown_external_field(name: str) -> ApiError:
    # A path segment that is neither an Id of the object nor an external-ID field
    # is read as one. [src: dome_upsert.htm; recorded 404 responses (public code)]
    return not_found(f"Provided external ID field does not exist or is not accessible: {name}")


def _row_id(obj: SObjectDef, segment: str, *, reading: bool) -> str:
    """The record Id in ``sobjects/{Type}/{id}``, checked against the object."""
    if is_valid_id(segment) and segment.startswith(obj.key_prefix):
        return to18(segment)
    looks_like_id = len(segment) in (15, 18) and segment.isalnum()
    if looks_like_id and not reading:
        raise _malformed_row_id(obj, segment)
    raise _unknown_external_field(segment)


def _save_result(record_id: str) -> dict[str, Any]:
    return {"id": record_id, "success": True, "errors": []}


# --- create ------------------------------------------------------------------------------


async def create(request: RestRequest) -> RestResponse:
    """POST /sobjects/{Type}/ → 201 {"id", "success": true, "errors": []}.
    [src: dome_sobject_create.htm]"""
    obj = data_object(request.org, path_param(request, "sobject"))
    record_id = request.org.create(obj.name, _body(request), user_id=request.principal.user_id)
    return RestResponse(
        201, _save_result(record_id), {"Location": record_url(request, obj.name, record_id)}
    )


async def create_by_id_path(request: RestRequest) -> RestResponse:
    """POST /sobjects/{Type}/Id creates a record (v37.0+); POST on a record URL is
    not allowed. [src: resources_sobject_upsert_post.htm]"""
    obj = data_object(request.org, path_param(request, "sobject"))
    segment = path_param(request, "record_id")
    if segment.lower() != "id" or request.api_version < CREATE_BY_ID_PATH_VERSION:
        raise method_not_allowed("POST", ["GET", "HEAD", "PATCH", "DELETE"])
    record_id = request.org.create(obj.name, _body(request), user_id=request.principal.user_id)
    return RestResponse(201, _save_result(record_id))


def _body(request: RestRequest) -> Any:
    if request.body is None:
        # An empty body can't be deserialised into a record.
        raise ApiError.one(
            400,
            "JSON_PARSER_ERROR",
            "No content to map due to end-of-input at [line:1, column:0]",
        )
    if not isinstance(request.body, dict):
        # Nor can an array, a string or a number: "400 ... the JSON or XML body
        # contains an error" [src: api_rest errorcodes.htm], in the parser's own
        # words for the value it met (deserialise.py). It was a 500, and inside
        # an all-or-none composite the subrequests before it stayed written.
        sobject = path_param(request, "sobject")
        raise parser_error(sobject, request.body, 1)
    return request.body


# --- retrieve / update / delete by Id ---------------------------------------------------------


async def retrieve(request: RestRequest) -> RestResponse:
    """GET /sobjects/{Type}/{id}[?fields=a,b] → 200 with the record.
    [src: resources_sobject_retrieve.htm]"""
    obj = data_object(request.org, path_param(request, "sobject"))
    record_id = _row_id(obj, path_param(request, "record_id"), reading=True)
    fields = requested_fields(request, obj)
    record = request.org.stored(obj.name, record_id)
    if record is None:
        raise not_found()
    if record.get("IsDeleted"):
        raise ApiError.one(404, "ENTITY_IS_DELETED", "entity is deleted", [])
    modified = _http_date(record.get("LastModifiedDate"))
    headers = {"Last-Modified": modified} if modified else {}
    return RestResponse(200, record_json(request, obj, record, fields), headers)


async def update(request: RestRequest) -> RestResponse:
    """PATCH /sobjects/{Type}/{id} → 204 No Content. [src: dome_update_fields.htm]"""
    obj = data_object(request.org, path_param(request, "sobject"))
    record_id = _row_id(obj, path_param(request, "record_id"), reading=False)
    request.org.update(obj.name, record_id, _body(request), user_id=request.principal.user_id)
    return RestResponse(204, None)


async def delete(request: RestRequest) -> RestResponse:
    """DELETE /sobjects/{Type}/{id} → 204 No Content. [src: dome_delete_record.htm]"""
    obj = data_object(request.org, path_param(request, "sobject"))
    record_id = _row_id(obj, path_param(request, "record_id"), reading=False)
    request.org.delete(obj.name, record_id, user_id=request.principal.user_id)
    return RestResponse(204, None)


# --- by external ID -------------------------------------------------------------------------


def _external_field(obj: SObjectDef, name: str) -> FieldDef:
    """An upsert key: Id or a field marked External ID (or idLookup, e.g. a unique
    text field)."""
    item = obj.field(name)
    if item is None or not (item.name == "Id" or item.external_id or item.id_lookup):
        raise _unknown_external_field(name)
    return item


def _matches(request: RestRequest, obj: SObjectDef) -> tuple[FieldDef, str, list[Record]]:
    item = _external_field(obj, path_param(request, "ext_field"))
    value = path_param(request, "ext_value")
    if item.name == "Id" and not is_valid_id(value):
        return item, value, []
    return item, value, request.org.find_by_field(obj.name, item.name, value)


def _multiple_choices(request: RestRequest, obj: SObjectDef, matches: list[Record]) -> RestResponse:
    # 300: "The value returned when an external ID exists in more than one record.
    # The response body contains the list of matching records."
    # [src: api_rest errorcodes.htm 300; dome_upsert.htm]
    return RestResponse(300, [record_url(request, obj.name, m["Id"]) for m in matches])


async def retrieve_by_external_id(request: RestRequest) -> RestResponse:
    """GET /sobjects/{Type}/{field}/{value}. [src: resources_sobject_upsert.htm]"""
    obj = data_object(request.org, path_param(request, "sobject"))
    _item, _value, matches = _matches(request, obj)
    if not matches:
        raise not_found()
    if len(matches) > 1:
        return _multiple_choices(request, obj, matches)
    fields = requested_fields(request, obj)
    return RestResponse(200, record_json(request, obj, matches[0], fields))


async def delete_by_external_id(request: RestRequest) -> RestResponse:
    obj = data_object(request.org, path_param(request, "sobject"))
    _item, _value, matches = _matches(request, obj)
    if not matches:
        raise not_found()
    if len(matches) > 1:
        return _multiple_choices(request, obj, matches)
    request.org.delete(obj.name, matches[0]["Id"], user_id=request.principal.user_id)
    return RestResponse(204, None)


async def upsert(request: RestRequest) -> RestResponse:
    """PATCH /sobjects/{Type}/{field}/{value}: no match creates (201), one match
    updates (200 with ``created: false`` from v46.0, 204 before), several matches
    change nothing (300). ``?updateOnly=true`` refuses to create.
    [src: dome_upsert.htm; resources_sobject_upsert_patch.htm; SALESFORCE.md §4]"""
    org = request.org
    obj = data_object(org, path_param(request, "sobject"))
    if not obj.createable and not obj.updateable:
        raise ApiError.one(400, "INSUFFICIENT_ACCESS_OR_READONLY", "entity is read-only")
    item, value, matches = _matches(request, obj)
    body = _body(request)
    forbidden = [item.name] if item.name != "Id" else []
    modern = request.api_version >= UPSERT_CREATED_FLAG_VERSION
    if len(matches) > 1:
        return _multiple_choices(request, obj, matches)
    user_id = request.principal.user_id
    if matches:
        record_id = str(matches[0]["Id"])
        org.update(obj.name, record_id, body, user_id=user_id, forbidden=forbidden)
        if not modern:
            return RestResponse(204, None)
        return RestResponse(200, {**_save_result(record_id), "created": False})
    if item.name == "Id" or (request.param("updateOnly") or "").lower() == "true":
        raise not_found()
    reject_fields(body, ["Id", *forbidden])
    # The key comes from the URL and is checked like any other value.
    values = validate_write(org, obj, {**body, item.name: value})
    record_id = org.insert(obj.name, values, user_id=user_id)
    result = _save_result(record_id)
    if modern:
        result["created"] = True
    return RestResponse(201, result, {"Location": record_url(request, obj.name, record_id)})


def _http_date(stamp: Any) -> str:
    moment = parse_datetime(stamp) if isinstance(stamp, str) else None
    return http_format(moment, usegmt=True) if moment is not None else ""
