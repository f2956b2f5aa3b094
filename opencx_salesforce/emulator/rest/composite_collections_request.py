"""Request-level checks of sObject Collections: the API version, the
``{"records": [...], "allOrNone": ...}`` body, at most 200 records in at most
10 chunks of object types. [src: api_rest
resources_composite_sobjects_collections_create.htm; SALESFORCE.md §3]"""

from __future__ import annotations

from typing import Any

from opencx_salesforce.emulator.rest.composite import bad_request
from opencx_salesforce.emulator.rest.dispatch import RestRequest
from opencx_salesforce.emulator.rest.errors import ApiError, not_found

COLLECTIONS_MIN_VERSION = 42.0
UPSERT_MIN_VERSION = 46.0
MAX_RECORDS = 200
MAX_CHUNKS = 10


def too_many() -> ApiError:
    return ApiError.one(
        400,
        "EXCEEDED_ID_LIMIT",
        "record limit reached. cannot submit more than 200 records into this call",
    )


def check_version(request: RestRequest, minimum: float = COLLECTIONS_MIN_VERSION) -> None:
    if request.api_version < minimum:
        raise not_found()


def request_records(request: RestRequest) -> tuple[list[dict[str, Any]], bool]:
    body = request.body
    if not isinstance(body, dict):
        raise bad_request("The request body must be a JSON object with a records array")
    records = body.get("records")
    all_or_none = body.get("allOrNone", False)
    if not isinstance(records, list) or not isinstance(all_or_none, bool):
        raise bad_request("records must be an array and allOrNone true or false")
    if len(records) > MAX_RECORDS:
        raise too_many()
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
