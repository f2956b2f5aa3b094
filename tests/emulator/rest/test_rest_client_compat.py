"""What Salesforce's own clients need from the REST API, each behaviour checked
against the doc it follows (issue 21). The clients themselves drive the emulator
in tests/clients/."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from urllib.parse import quote

import aiohttp
from emulator_support import RestCaller

from opencx_salesforce.emulator.app import Emulator
from opencx_salesforce.emulator.seed import default_org


async def test_double_slash_paths_answer_like_single_slash(rest: RestCaller) -> None:
    """github.com/forcedotcom/cli issue 361: the CLI keeps instance URLs ending in
    "/" and sends "//services/data/..." (SALESFORCE.md §2)."""
    versions = await rest.get("//services/data/")
    assert versions.status == 200
    assert {"label", "url", "version"} <= set(versions.body[0])
    query = await rest.get("//services/data/v62.0/query?q=SELECT+Id+FROM+Case")
    assert query.status == 200
    assert query.body["done"] is True
    limits = await rest.get("//services/data/v62.0/limits")
    assert limits.status == 200 and "DailyApiRequests" in limits.body


async def test_columns_true_answers_column_metadata(rest: RestCaller) -> None:
    """The CLI's `sf data query` sends ?columns=true and reads columnMetadata (the
    parameter is UNCONFIRMED in api_rest resources_query.htm, see query_columns.py)."""
    q = quote("SELECT Id, Subject, Owner.Name, (SELECT Id FROM CaseComments) FROM Case")
    reply = await rest.get(f"query?q={q}&columns=true")
    assert reply.status == 200, reply.text
    body = reply.body
    assert body["entityName"] == "Case"
    assert body["idSelected"] is True
    assert body["keyPrefix"] == "500"
    names = [column["columnName"] for column in body["columnMetadata"]]
    assert names == ["Id", "Subject", "Owner", "CaseComments"]
    owner = body["columnMetadata"][2]
    assert [join["columnName"] for join in owner["joinColumns"]] == ["Name"]
    comments = body["columnMetadata"][3]
    assert comments["aggregate"] is True
    assert [join["columnName"] for join in comments["joinColumns"]] == ["Id"]
    assert "records" not in body


async def test_columns_true_on_a_bad_query_is_the_query_error(rest: RestCaller) -> None:
    """api_rest resources_query.htm: a bad query is a 400 however it is asked."""
    reply = await rest.get(f"query?q={quote('SELECT Bogus FROM Case')}&columns=true")
    assert reply.status == 400
    assert reply.body[0]["errorCode"] == "INVALID_FIELD"


async def test_resources_by_version_lists_identity(
    rest: RestCaller, http: aiohttp.ClientSession
) -> None:
    """dome-discoveryresource.md "List Available REST Resources": the v68.0 example
    lists search, recent, composite, ... and "identity" as an absolute URL, which
    jsforce's conn.identity() follows."""
    reply = await rest.get("")
    assert reply.status == 200
    body = reply.body
    for name in ("sobjects", "query", "queryAll", "search", "tooling", "composite", "limits"):
        assert body[name] == f"/services/data/v62.0/{name}"
    identity_url = body["identity"]
    assert identity_url.startswith(rest.base_url + "/id/" + rest.org.id + "/005")
    async with http.get(identity_url, headers={"Authorization": f"Bearer {rest.token}"}) as resp:
        assert resp.status == 200
        identity = await resp.json()
    assert identity["organization_id"] == rest.org.id


async def test_retired_versions_answer_410_gone(rest: RestCaller) -> None:
    """intro_api_eol.html "API End-of-Life Policy": 21.0–30.0 retired in Summer '25,
    "REST API returns the 410:GONE error code"."""
    for version in ("21.0", "25.0", "30.0"):
        reply = await rest.get(f"/services/data/v{version}/limits")
        assert reply.status == 410
        assert reply.body[0]["errorCode"] == "GONE"
    listed = [item["version"] for item in (await rest.get("/services/data/")).body]
    assert listed[0] == "31.0"
    assert "30.0" not in listed
    # The plugin's default version stays served.
    assert (await rest.get("/services/data/v62.0/limits")).status == 200


async def test_a_version_newer_than_the_org_is_not_found(rest: RestCaller) -> None:
    """api_rest errorcodes.htm 404: the org has no such version's resources."""
    newest = (await rest.get("/services/data/")).body[-1]["version"]
    assert (await rest.get(f"/services/data/v{newest}/limits")).status == 200
    newer = f"{float(newest) + 1:.1f}"
    reply = await rest.get(f"/services/data/v{newer}/limits")
    assert reply.status == 404
    assert reply.body[0]["errorCode"] == "NOT_FOUND"


async def test_describe_has_describe_sobject_result_keys(rest: RestCaller) -> None:
    """sforce-api-calls-describesobjects-describesobjectresult.html: actionOverrides,
    compactLayoutable, namedLayoutInfos, searchLayoutable, ..."""
    body = (await rest.get("sobjects/Case/describe")).body
    assert body["actionOverrides"] == []
    assert body["namedLayoutInfos"] == []
    assert body["compactLayoutable"] is True
    assert body["searchLayoutable"] is True
    for key in ("associateEntityType", "networkScopeFieldName", "implementsInterfaces"):
        assert key in body and body[key] is None
    assert body["isSubtype"] is False and body["isInterface"] is False


async def test_unsupported_rest_resources_answer_salesforce_errors(rest: RestCaller) -> None:
    """api_rest errorcodes.htm: REST errors are a JSON array of {message, errorCode}."""
    for path in ("search?q=FIND+%7Bx%7D", "parameterizedSearch?q=x"):
        reply = await rest.get(path)
        assert reply.status == 403, path
        assert reply.headers["Content-Type"].startswith("application/json")
        assert reply.body[0]["errorCode"] == "FUNCTIONALITY_NOT_ENABLED"
    # api_asynch bulk_api_2_0_errors.htm: FeatureNotEnabled.
    bulk2 = await rest.post("jobs/ingest", {"object": "Case", "operation": "insert"})
    assert bulk2.status == 400
    assert bulk2.body[0]["errorCode"] == "FeatureNotEnabled"
    apex = await rest.get("/services/apexrest/MyService/v1")
    assert apex.status == 404
    assert apex.body == [
        {"message": "Could not find a match for URL /MyService/v1", "errorCode": "NOT_FOUND"}
    ]


async def test_bulk_1_answers_its_exception_body(rest: RestCaller) -> None:
    """api_asynch asynch_api_reference_errors.htm: {exceptionCode, exceptionMessage}."""
    reply = await rest.post(
        "/services/async/62.0/job", {"operation": "insert"}, headers={"X-SFDC-Session": "x"}
    )
    assert reply.status == 400
    assert reply.body["exceptionCode"] == "FeatureNotEnabled"


async def test_soap_answers_a_soap_fault(rest: RestCaller) -> None:
    """api sforce_api_calls_concepts_core_data_objects.htm: a SOAP fault with an
    sf:<ExceptionCode> faultcode (HTTP 500 for faults, per SOAP 1.1)."""
    envelope = "<soapenv:Envelope/>"
    reply = await rest.call(
        "POST", "/services/Soap/u/62.0", raw=envelope, headers={"Content-Type": "text/xml"}
    )
    assert reply.status == 500
    assert reply.headers["Content-Type"].startswith("text/xml")
    assert "<faultcode>sf:FUNCTIONALITY_NOT_ENABLED</faultcode>" in reply.text


async def test_get_updated_and_get_deleted(rest: RestCaller) -> None:
    """api_rest resources_getupdated.htm / resources_getdeleted.htm: Ids changed or
    deleted between start and end."""
    created = await rest.post("sobjects/Case", {"Subject": "changed"})
    case_id = created.body["id"]
    gone = (await rest.post("sobjects/Case", {"Subject": "gone"})).body["id"]
    assert (await rest.call("DELETE", f"sobjects/Case/{gone}")).status == 204
    now = rest.org.state.clock.utcnow()
    start = quote((now - timedelta(hours=1)).isoformat())
    end = quote((now + timedelta(minutes=1)).isoformat())
    updated = await rest.get(f"sobjects/Case/updated/?start={start}&end={end}")
    assert updated.status == 200, updated.text
    assert case_id in updated.body["ids"] and gone not in updated.body["ids"]
    assert "latestDateCovered" in updated.body
    deleted = await rest.get(f"sobjects/Case/deleted/?start={start}&end={end}")
    assert deleted.status == 200
    assert [item["id"] for item in deleted.body["deletedRecords"]] == [gone]
    long_ago = quote(datetime(2001, 1, 1, tzinfo=UTC).isoformat())
    earlier = await rest.get(f"sobjects/Case/updated/?start={long_ago}&end={long_ago}")
    assert earlier.body["ids"] == []


async def test_get_updated_without_dates_is_an_error_not_an_external_id(
    rest: RestCaller,
) -> None:
    """resources_getupdated.htm: start and end are required (error code UNCONFIRMED)."""
    reply = await rest.get("sobjects/Case/updated/")
    assert reply.status == 400
    assert reply.body[0]["errorCode"] == "INVALID_REPLICATION_DATE"


async def test_token_carries_api_instance_url_with_sfap_api(
    emulator: Emulator, http: aiohttp.ClientSession
) -> None:
    """models-api-authentication.md: an app with the sfap_api scope; its token
    response names the API Platform host (Mobile SDK TokenEndpointResponse)."""
    seed = default_org()
    app = replace(seed.apps[0], scopes=(*seed.apps[0].scopes, "sfap_api"))
    emulator.state.add_org(replace(seed, apps=(app,)))
    form = {
        "grant_type": "client_credentials",
        "client_id": app.client_id,
        "client_secret": app.client_secret,
    }
    async with http.post(f"{emulator.base_url}/services/oauth2/token", data=form) as response:
        body = await response.json()
    assert body["api_instance_url"] == "https://api.salesforce.com"
    assert body["instance_url"] == emulator.base_url


async def test_token_without_sfap_api_has_no_api_instance_url(
    emulator: Emulator, http: aiohttp.ClientSession
) -> None:
    """SALESFORCE.md §1: the documented token response, nothing more."""
    app = emulator.state.add_org(default_org()).seed.apps[0]
    form = {
        "grant_type": "client_credentials",
        "client_id": app.client_id,
        "client_secret": app.client_secret,
    }
    async with http.post(f"{emulator.base_url}/services/oauth2/token", data=form) as response:
        body = await response.json()
    assert "api_instance_url" not in body
