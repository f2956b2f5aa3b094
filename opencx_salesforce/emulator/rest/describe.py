"""Describe Global, sObject Basic Information (GET) and sObject Describe.
[src: api_rest resources_describeGlobal.htm, resources_sobject_basic_info.htm,
 dome_sobject_describe.htm]
"""

from __future__ import annotations

from datetime import UTC, datetime
from email.utils import format_datetime, parsedate_to_datetime
from typing import Any

from opencx_salesforce.emulator.org import Org
from opencx_salesforce.emulator.rest.dispatch import RestRequest, RestResponse, path_param
from opencx_salesforce.emulator.rest.sobjects import data_object
from opencx_salesforce.emulator.schema import SObjectDef

# The most records one sObject Collections request takes. [src: SALESFORCE.md §3]
MAX_BATCH_SIZE = 200


def _last_modified(org: Org) -> str:
    return format_datetime(datetime.fromtimestamp(int(org.schema_modified), UTC), usegmt=True)


def not_modified_since(request: RestRequest) -> bool:
    """Describe answers 304 when the metadata hasn't changed since the
    If-Modified-Since date. [src: api_rest dome_sobject_describe.htm; errorcodes.htm 304]"""
    header = request.header("If-Modified-Since")
    if not header:
        return False
    try:
        since = parsedate_to_datetime(header).timestamp()
    except (TypeError, ValueError):
        return False
    return int(request.org.schema_modified) <= since


def global_describe(
    request: RestRequest, objects: list[SObjectDef], *, tooling: bool
) -> RestResponse:
    if not_modified_since(request):
        return RestResponse(304, None)
    body: dict[str, Any] = {
        "encoding": "UTF-8",
        "maxBatchSize": MAX_BATCH_SIZE,
        "sobjects": [obj.summary(request.version, tooling=tooling) for obj in objects],
    }
    return RestResponse(200, body, {"Last-Modified": _last_modified(request.org)})


async def describe_global(request: RestRequest) -> RestResponse:
    objects = [obj for obj in request.org.schema.objects.values() if obj.data_api]
    return global_describe(request, objects, tooling=False)


async def describe_sobject(request: RestRequest) -> RestResponse:
    obj = data_object(request.org, path_param(request, "sobject"))
    return object_describe(request, obj, tooling=False)


# The DescribeSObjectResult properties the schema's own describe leaves out, with the
# value an object without layouts, overrides or interfaces has: empty lists, nulls
# ("Otherwise, its value is null") and false. [src: developer.salesforce.com/docs/
# platform/api/guide/sforce-api-calls-describesobjects-describesobjectresult.html
# "DescribeSObjectResult"; jsforce DescribeSObjectResult type (the REST keys)]
# compactLayoutable/searchLayoutable/listviewable/lookupLayoutable true for the
# objects with layouts is UNCONFIRMED per object; the emulator says so for layoutable ones.
def _describe_extras(obj: SObjectDef) -> dict[str, Any]:
    layoutable = obj.data_api
    return {
        "actionOverrides": [],
        "associateEntityType": None,
        "associateParentEntity": None,
        "compactLayoutable": layoutable,
        "deepCloneable": False,
        "defaultImplementation": None,
        "extendedBy": None,
        "extendsInterfaces": None,
        "hasSubtypes": False,
        "implementedBy": None,
        "implementsInterfaces": None,
        "isInterface": False,
        "isSubtype": False,
        "listviewable": None,
        "lookupLayoutable": None,
        "namedLayoutInfos": [],
        "networkScopeFieldName": None,
        "searchLayoutable": layoutable,
        "sobjectDescribeOption": "FULL",
    }


def object_describe(request: RestRequest, obj: SObjectDef, *, tooling: bool) -> RestResponse:
    if not_modified_since(request):
        return RestResponse(304, None)
    body = obj.describe(request.version, tooling=tooling)
    for key, value in _describe_extras(obj).items():
        body.setdefault(key, value)
    return RestResponse(200, body, {"Last-Modified": _last_modified(request.org)})


async def basic_info(request: RestRequest) -> RestResponse:
    """GET /sobjects/{Type}/: the object's summary and recently viewed items
    (the emulator keeps no view history, so none)."""
    obj = data_object(request.org, path_param(request, "sobject"))
    return RestResponse(
        200,
        {"objectDescribe": obj.summary(request.version), "recentItems": []},
    )
