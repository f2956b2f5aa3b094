"""The Tooling API resources the emulator serves: ``tooling/query`` (with Query
More), ``tooling/sobjects`` (describe global), ``tooling/sobjects/{Type}/describe``
and ``tooling/sobjects/{Type}/{id}`` over the org's Apex classes, triggers and
Named Credentials. ``tooling/executeAnonymous`` is not core: an org gets it from
a route added with ``Org.add_rest_route`` (see rest/dispatch.py).
[src: api_tooling intro_rest_resources.htm; tooling_resources_query.htm;
 SALESFORCE.md §8]
"""

from __future__ import annotations

from opencx_salesforce.emulator.rest.describe import global_describe, object_describe
from opencx_salesforce.emulator.rest.dispatch import RestRequest, RestResponse, path_param
from opencx_salesforce.emulator.rest.errors import not_found
from opencx_salesforce.emulator.rest.query import run_query
from opencx_salesforce.emulator.rest.sobjects import record_json
from opencx_salesforce.emulator.schema import SObjectDef


def tooling_object(request: RestRequest, name: str) -> SObjectDef:
    obj = request.org.schema.get(name)
    if obj is None or not obj.tooling_api:
        raise not_found()
    return obj


async def query(request: RestRequest) -> RestResponse:
    return run_query(request, tooling=True, include_deleted=False)


async def describe_global(request: RestRequest) -> RestResponse:
    objects = [obj for obj in request.org.schema.objects.values() if obj.tooling_api]
    return global_describe(request, objects, tooling=True)


async def describe_sobject(request: RestRequest) -> RestResponse:
    obj = tooling_object(request, path_param(request, "sobject"))
    return object_describe(request, obj, tooling=True)


async def retrieve(request: RestRequest) -> RestResponse:
    obj = tooling_object(request, path_param(request, "sobject"))
    record = request.org.live(obj.name, path_param(request, "record_id"))
    if record is None:
        raise not_found()
    return RestResponse(200, record_json(request, obj, record, tooling=True))
