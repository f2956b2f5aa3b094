"""sObject Get Updated and Get Deleted: the Ids changed or deleted in a window.

``GET /sobjects/{Type}/updated/?start=...&end=...`` → ``{"ids": [...],
"latestDateCovered": ...}``; ``GET /sobjects/{Type}/deleted/?start=...&end=...`` →
``{"deletedRecords": [{"id", "deletedDate"}], "earliestDateAvailable",
"latestDateCovered"}``. Dates are ISO 8601 ("2013-05-05T00:00:00+00:00", URL-encoded).
[src: api_rest resources_getupdated.htm "sObject Get Updated";
 resources_getdeleted.htm "sObject Get Deleted"; dome_get_updated.htm]
The error for a missing or unreadable date is UNCONFIRMED in the docs: the SOAP
``getUpdated()`` names it INVALID_REPLICATION_DATE, and that is used here.
"""

from __future__ import annotations

from datetime import UTC, datetime

from opencx_salesforce.emulator.rest.dispatch import RestRequest, RestResponse, path_param
from opencx_salesforce.emulator.rest.errors import ApiError
from opencx_salesforce.emulator.rest.sobjects import data_object


def _date(request: RestRequest, name: str) -> datetime:
    text = request.param(name)
    if not text:
        raise ApiError.one(400, "INVALID_REPLICATION_DATE", f"Missing the '{name}' date")
    try:
        moment = datetime.fromisoformat(text.strip().replace(" ", "+"))
    except ValueError:
        raise ApiError.one(
            400, "INVALID_REPLICATION_DATE", f"'{name}': not an ISO 8601 date: {text}"
        ) from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _stamp(value: object) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        return datetime.fromisoformat(value.replace("+0000", "+00:00"))
    except ValueError:
        return None


def _format(moment: datetime) -> str:
    # Salesforce's dateTime form, e.g. "2013-05-07T22:07:00.000+0000"; "covered" up to
    # the last whole minute. [src: resources_getupdated.htm example]
    moment = moment.astimezone(UTC).replace(second=0, microsecond=0)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.000+0000")


def _window(request: RestRequest) -> tuple[datetime, datetime]:
    start, end = _date(request, "start"), _date(request, "end")
    if end < start:
        raise ApiError.one(400, "INVALID_REPLICATION_DATE", "'end' is before 'start'")
    return start, end


async def get_updated(request: RestRequest) -> RestResponse:
    obj = data_object(request.org, path_param(request, "sobject"))
    start, end = _window(request)
    ids = []
    for record in request.org.records.get(obj.name, {}).values():
        stamp = _stamp(record.get("SystemModstamp") or record.get("LastModifiedDate"))
        if not record.get("IsDeleted") and stamp is not None and start <= stamp <= end:
            ids.append(record["Id"])
    return RestResponse(200, {"ids": ids, "latestDateCovered": _format(end)})


async def get_deleted(request: RestRequest) -> RestResponse:
    obj = data_object(request.org, path_param(request, "sobject"))
    start, end = _window(request)
    deleted = []
    for record in request.org.records.get(obj.name, {}).values():
        stamp = _stamp(record.get("SystemModstamp"))
        if record.get("IsDeleted") and stamp is not None and start <= stamp <= end:
            deleted.append({"id": record["Id"], "deletedDate": record["SystemModstamp"]})
    body = {
        "deletedRecords": deleted,
        # The emulator keeps every deleted record (no Recycle Bin purge), so nothing
        # before ``start`` is lost; the platform's value here is the purge horizon,
        # which the emulator has none of (UNCONFIRMED what an org without one says).
        "earliestDateAvailable": _format(start),
        "latestDateCovered": _format(end),
    }
    return RestResponse(200, body)
