"""sObject Collections retrieve: ``GET /composite/sobjects/{SObject}?ids=&fields=``
and ``POST`` with ``{"ids", "fields"}`` (up to 2,000 Ids); an Id that matches
nothing answers null in its place.
[src: api_rest resources_composite_sobjects_collections_retrieve.htm]"""

from __future__ import annotations

import dataclasses
from typing import Any

from opencx_salesforce.emulator.ids import is_valid_id
from opencx_salesforce.emulator.rest.composite import bad_request
from opencx_salesforce.emulator.rest.composite_collections_request import check_version
from opencx_salesforce.emulator.rest.dispatch import RestRequest, RestResponse, Route, path_param
from opencx_salesforce.emulator.rest.errors import ApiError
from opencx_salesforce.emulator.rest.sobjects import data_object, record_json, requested_fields

# POST retrieve takes up to 2,000 Ids. [src: resources_composite_sobjects_collections_retrieve.htm]
MAX_RETRIEVE_IDS = 2000


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
    check_version(request)
    return _retrieve(request, _split(request.param("ids")), _split(request.param("fields")))


async def retrieve_by_body(request: RestRequest) -> RestResponse:
    """POST /{SObject} with ``{"ids": [...], "fields": [...]}``, up to 2,000 Ids.
    [src: resources_composite_sobjects_collections_retrieve_post.htm]"""
    check_version(request)
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
    Route.of("composite/sobjects/(?P<sobject>[^/]+)", GET=retrieve, POST=retrieve_by_body),
]
