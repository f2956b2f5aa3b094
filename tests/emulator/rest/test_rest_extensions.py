"""The seams other parts of the emulator build on: per-org extra routes (a
deployed package's resources), dispatch without accounting (composite
subrequests), and snapshot/restore (composite rollback)."""

from __future__ import annotations

from emulator_support import RestCaller

from opencx_salesforce.emulator.rest.dispatch import RestRequest, RestResponse, Route, dispatch


async def test_org_route_serves_a_package_resource(rest: RestCaller) -> None:
    """An org can carry extra resources (e.g. tooling/executeAnonymous once a
    package is deployed); they are authenticated and counted like any other."""

    async def execute_anonymous(request: RestRequest) -> RestResponse:
        body = request.param("anonymousBody") or ""
        return RestResponse(200, {"compiled": True, "success": True, "echo": body})

    rest.org.add_rest_route(Route.of("tooling/executeAnonymous/?", GET=execute_anonymous))
    reply = await rest.get("tooling/executeAnonymous/?anonymousBody=System.debug(1);")
    assert reply.status == 200
    assert reply.body["echo"] == "System.debug(1);"
    assert reply.headers["Sforce-Limit-Info"] == "api-usage=1/15000"
    assert rest.org.api_calls.by_endpoint["tooling"] == 1


async def test_dispatch_runs_one_request_without_counting(rest: RestCaller) -> None:
    """Composite subrequests go through dispatch: errors come back as responses and
    no API call is counted."""
    principal = rest.org.state.auth.validate_bearer(f"Bearer {rest.token}")
    created = await dispatch(
        rest.org, principal, "POST", "/services/data/v62.0/sobjects/Case", {"Subject": "sub"}
    )
    assert created.status == 201 and created.body["success"] is True
    failed = await dispatch(
        rest.org, principal, "POST", "/services/data/v62.0/sobjects/Case", {"Bad__c": 1}
    )
    assert failed.status == 400 and failed.body[0]["errorCode"] == "INVALID_FIELD"
    missing = await dispatch(rest.org, principal, "GET", "/services/data/v62.0/nowhere", None)
    assert missing.status == 404
    assert rest.org.api_calls.total == 0


async def test_snapshot_and_restore_roll_back_records_and_numbers(rest: RestCaller) -> None:
    """allOrNone / graph / tree rollback: everything written after a snapshot goes,
    including the Case Number sequence."""
    kept = rest.org.create("Case", {"Subject": "kept"})
    snap = rest.org.snapshot()
    doomed = rest.org.create("Case", {"Subject": "doomed"})
    rest.org.update("Case", kept, {"Subject": "changed"})
    rest.org.create("CaseComment", {"ParentId": kept, "CommentBody": "gone"})
    rest.org.delete("Case", kept)
    rest.org.restore(snap)
    assert set(rest.org.records["Case"]) == {kept}
    assert rest.org.records["Case"][kept]["Subject"] == "kept"
    assert rest.org.records["Case"][kept]["IsDeleted"] is False
    assert rest.org.records["CaseComment"] == {}
    assert doomed not in rest.org.records["Case"]
    again = rest.org.create("Case", {"Subject": "next"})
    assert rest.org.records["Case"][again]["CaseNumber"] == "00001001"
