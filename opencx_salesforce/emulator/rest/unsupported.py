"""The APIs the emulator does not implement answer as Salesforce answers an API
that is not there for the caller, in each API's own error shape, so a client
reports a clear error instead of a plain-text 404, a hang or a 500:

- REST paths (``/services/data/vXX.X/search``, ``parameterizedSearch``) and Apex
  REST (``/services/apexrest/...``): the REST error array ``[{"message",
  "errorCode"}]``. [src: api_rest errorcodes.htm]
- Bulk API 2.0 (``/services/data/vXX.X/jobs/...``): the same array with the Bulk
  error code ``FeatureNotEnabled`` ("Bulk API 2.0 isn't enabled for this
  organization"). [src: api_asynch bulk_api_2_0_errors.htm "Errors"]
- Bulk API 1.0 (``/services/async/XX.X/...``): ``{"exceptionCode",
  "exceptionMessage"}`` with ``FeatureNotEnabled`` ("Bulk API isn't enabled for this
  organization"), HTTP 400.
  [src: developer.salesforce.com/docs/platform/api-asynch/guide/asynch-api-reference-errors.html]
- SOAP (``/services/Soap/{u,c,m,T}/...``, SOAP ``login()``): a SOAP 1.1 fault, HTTP
  500, ``faultcode`` ``sf:<ExceptionCode>`` and an ApiFault detail carrying
  ``exceptionCode`` and ``exceptionMessage`` (simple-salesforce reads those).
  [src: api_tooling tooling_api_objects_Fault_set.htm "ApiFault Element";
  FUNCTIONALITY_NOT_ENABLED is in the partner WSDL's ExceptionCode enumeration
  (com.sforce.soap.partner.fault.ExceptionCode as generated from it)]

The status codes for "not enabled here" (403 FUNCTIONALITY_NOT_ENABLED for REST
resources, 400 for both Bulk APIs) are UNCONFIRMED in the docs, as are the messages
naming the emulator (its own words after the documented ones).
"""

from __future__ import annotations

from xml.sax.saxutils import escape

from aiohttp import web

from opencx_salesforce.emulator.rest.dispatch import RestRequest, RestResponse, Route
from opencx_salesforce.emulator.rest.errors import ApiError, error_item

FUNCTIONALITY_NOT_ENABLED = "FUNCTIONALITY_NOT_ENABLED"


def not_supported(what: str) -> ApiError:
    return ApiError.one(
        403, FUNCTIONALITY_NOT_ENABLED, f"{what} is not supported by the Salesforce emulator"
    )


async def search(request: RestRequest) -> RestResponse:
    raise not_supported("SOSL search (the Search resource)")


async def bulk2(request: RestRequest) -> RestResponse:
    raise ApiError.one(
        400,
        "FeatureNotEnabled",
        "Bulk API 2.0 isn't enabled for this organization"
        " (the Salesforce emulator does not serve it)",
    )


# Routes after the version, added to the REST route table (rest/dispatch.py).
ROUTES = [
    Route.of("(?:search|parameterizedSearch)(?:/.*)?", GET=search, POST=search),
    Route.of(
        "jobs/(?:ingest|query)(?:/.*)?",
        GET=bulk2,
        POST=bulk2,
        PATCH=bulk2,
        PUT=bulk2,
        DELETE=bulk2,
    ),
]


async def apex_rest(request: web.Request) -> web.Response:
    """No Apex class answers at this URL. The message Salesforce gives for an Apex
    REST URL no class maps is "Could not find a match for URL" (UNCONFIRMED in the
    docs; recorded in client issues)."""
    path = request.match_info.get("tail", "")
    body = [error_item("NOT_FOUND", f"Could not find a match for URL /{path}")]
    return web.json_response(body, status=404)


async def bulk1(request: web.Request) -> web.Response:
    body = {
        "exceptionCode": "FeatureNotEnabled",
        "exceptionMessage": "Bulk API isn't enabled for this organization"
        " (the Salesforce emulator does not serve it)",
    }
    # JSON when the request is JSON, XML otherwise. [src: asynch_api_reference_errors]
    if "json" in request.headers.get("Content-Type", "").lower():
        return web.json_response(body, status=400)
    # The XML form: <error xmlns="http://www.force.com/2009/06/asyncapi/dataload">.
    xml = (
        '<?xml version="1.0" encoding="UTF-8"?>'
        '<error xmlns="http://www.force.com/2009/06/asyncapi/dataload">'
        f"<exceptionCode>{body['exceptionCode']}</exceptionCode>"
        f"<exceptionMessage>{escape(body['exceptionMessage'])}</exceptionMessage>"
        "</error>"
    )
    return web.Response(status=400, text=xml, content_type="application/xml", charset="UTF-8")


def soap_fault(code: str, message: str) -> web.Response:
    xml = (
        '<?xml version="1.0" encoding="UTF-8"?>'
        '<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/"'
        ' xmlns:sf="urn:fault.partner.soap.sforce.com"'
        ' xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">'
        "<soapenv:Body><soapenv:Fault>"
        f"<faultcode>sf:{code}</faultcode>"
        f"<faultstring>{code}: {escape(message)}</faultstring>"
        "<detail>"
        '<sf:UnexpectedErrorFault xsi:type="sf:UnexpectedErrorFault">'
        f"<sf:exceptionCode>{code}</sf:exceptionCode>"
        f"<sf:exceptionMessage>{escape(message)}</sf:exceptionMessage>"
        "</sf:UnexpectedErrorFault>"
        "</detail>"
        "</soapenv:Fault></soapenv:Body></soapenv:Envelope>"
    )
    return web.Response(status=500, text=xml, content_type="text/xml", charset="UTF-8")


async def soap(request: web.Request) -> web.Response:
    return soap_fault(
        FUNCTIONALITY_NOT_ENABLED,
        "the SOAP API (and SOAP login) is not supported by the Salesforce emulator;"
        " log in with OAuth and use the REST API",
    )


def add_unsupported_routes(app: web.Application) -> None:
    app.router.add_route("*", "/services/apexrest/{tail:.*}", apex_rest)
    app.router.add_route("*", "/services/async/{tail:.*}", bulk1)
    app.router.add_route("*", "/services/Soap/{tail:.*}", soap)
