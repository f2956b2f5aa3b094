"""Query, QueryAll and Query More: SOQL over REST, in batches.

A result larger than the batch size (default 2,000; ``Sforce-Query-Options:
batchSize=N``, 200–2,000) comes back with ``done: false`` and a
``nextRecordsUrl`` (``/services/data/vXX.X/query/01g…-2000``) that serves the
next batch from a stored cursor; when ``done`` is true ``nextRecordsUrl`` is
absent. ``queryAll`` includes deleted records. Child rows of a relationship
subquery count toward the batch size, so a batch of parents with children holds
fewer parents ("Child objects count toward the number of records for the batch
size"); a batch still carries at least one parent, however heavy.
[src: api_rest resources_query.htm, dome_query.htm, resources_queryall.htm,
 headers_queryoptions.htm; SALESFORCE.md §5]
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from opencx_salesforce.emulator.rest.dispatch import RestRequest, RestResponse, path_param
from opencx_salesforce.emulator.rest.errors import ApiError
from opencx_salesforce.emulator.rest.query_columns import columns_of
from opencx_salesforce.emulator.soql import execute, parse
from opencx_salesforce.emulator.soql.errors import SoqlError

DEFAULT_BATCH_SIZE = 2000
MIN_BATCH_SIZE = 200
MAX_BATCH_SIZE = 2000
# A query cursor left unused this long is gone (UNCONFIRMED: 15 minutes of
# inactivity is the commonly cited figure).
CURSOR_IDLE_SECONDS = 15 * 60

_BATCH_SIZE = re.compile(r"batchSize\s*=\s*(\d+)", re.IGNORECASE)


@dataclass
class QueryCursor:
    records: list[dict[str, Any]]
    total_size: int
    batch_size: int
    tooling: bool
    last_used: float


def batch_size(request: RestRequest) -> int:
    """From ``Sforce-Query-Options: batchSize=N``; out-of-range values are held to
    200–2,000. [src: api_rest headers_queryoptions.htm]"""
    header = request.header("Sforce-Query-Options")
    matched = _BATCH_SIZE.search(header or "")
    if matched is None:
        return DEFAULT_BATCH_SIZE
    return max(MIN_BATCH_SIZE, min(MAX_BATCH_SIZE, int(matched[1])))


def run_query(request: RestRequest, *, tooling: bool, include_deleted: bool) -> RestResponse:
    text = request.param("q")
    if text is None or not text.strip():
        raise ApiError.one(400, "MALFORMED_QUERY", "A query string has to be specified")
    org = request.org
    source = org.tooling if tooling else org.data
    try:
        parsed = parse(text)
        result = execute(
            parsed,
            source,
            api_version=request.version,
            now=org.state.clock.utcnow(),
            include_deleted=include_deleted,
            tooling=tooling,
        )
    except SoqlError as error:
        raise ApiError(error.status, list(error.body())) from None
    if (request.param("columns") or "").lower() == "true":
        # Checked by running the query first, so a bad query fails as it would.
        return RestResponse(200, columns_of(parsed, org.schema))
    return first_batch(request, list(result.records), result.total_size, tooling=tooling)


def _weight(record: dict[str, Any]) -> int:
    """The rows ``record`` counts for in a batch: itself and the rows of its
    subquery results, nested ones included. [src: api_rest headers_queryoptions.htm
    "Child objects count toward the number of records for the batch size"]"""
    rows = 1
    for value in record.values():
        if isinstance(value, dict) and isinstance(value.get("records"), list):
            rows += sum(_weight(child) for child in value["records"])
    return rows


def _batch_end(records: list[dict[str, Any]], offset: int, size: int) -> int:
    """Where the batch starting at ``offset`` ends: as many rows as fit in
    ``size`` counting children, and never fewer than one parent."""
    end, rows = offset, 0
    while end < len(records):
        rows += _weight(records[end])
        if rows > size and end > offset:
            break
        end += 1
    return end


def first_batch(
    request: RestRequest,
    records: list[dict[str, Any]],
    total_size: int,
    *,
    tooling: bool,
) -> RestResponse:
    size = batch_size(request)
    if _batch_end(records, 0, size) == len(records):
        return RestResponse(200, {"totalSize": total_size, "done": True, "records": records})
    org = request.org
    now = org.state.clock.now()
    for stale in [
        key for key, c in org.query_cursors.items() if now - c.last_used > CURSOR_IDLE_SECONDS
    ]:
        del org.query_cursors[stale]
    locator = org.state.ids.new("01g")
    org.query_cursors[locator] = QueryCursor(
        records=records,
        total_size=total_size,
        batch_size=size,
        tooling=tooling,
        last_used=now,
    )
    return RestResponse(200, _page(request, locator, org.query_cursors[locator], 0))


def _page(request: RestRequest, locator: str, cursor: QueryCursor, offset: int) -> dict[str, Any]:
    end = _batch_end(cursor.records, offset, cursor.batch_size)
    body: dict[str, Any] = {"totalSize": cursor.total_size, "done": end >= len(cursor.records)}
    if not body["done"]:
        resource = f"{'tooling/' if cursor.tooling else ''}query/{locator}-{end}"
        body["nextRecordsUrl"] = request.url_for(resource)
    body["records"] = cursor.records[offset:end]
    return body


async def query(request: RestRequest) -> RestResponse:
    return run_query(request, tooling=False, include_deleted=False)


async def query_all(request: RestRequest) -> RestResponse:
    return run_query(request, tooling=False, include_deleted=True)


def _invalid_locator() -> ApiError:
    # [src: SOAP/REST error code INVALID_QUERY_LOCATOR — message UNCONFIRMED]
    return ApiError.one(400, "INVALID_QUERY_LOCATOR", "invalid query locator")


async def query_more(request: RestRequest) -> RestResponse:
    """GET ``nextRecordsUrl`` as-is: ``query/{locator}-{offset}``. [src: dome_query.htm]"""
    org = request.org
    locator, _, offset_text = path_param(request, "locator").partition("-")
    cursor = org.query_cursors.get(locator)
    now = org.state.clock.now()
    if cursor is not None and now - cursor.last_used > CURSOR_IDLE_SECONDS:
        del org.query_cursors[locator]
        cursor = None
    if cursor is None or not offset_text.isdigit():
        raise _invalid_locator()
    offset = int(offset_text)
    if offset > len(cursor.records):
        raise _invalid_locator()
    cursor.last_used = now
    return RestResponse(200, _page(request, locator, cursor, offset))
