"""``tooling/executeAnonymous``: what ``doctor`` runs to check the deployed package
end to end (``OpenSalesforceCaseManagement.ping();``)."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import quote

from emulator_support import Reply, RestCaller
from package_support import SECRET, Deployed

from opencx_salesforce.apex import contract
from opencx_salesforce.apex.render import render_package

PING = "OpenSalesforceCaseManagement.ping();"


async def execute(rest: RestCaller, source: str) -> Reply:
    return await rest.get(f"tooling/executeAnonymous/?anonymousBody={quote(source)}")


async def test_ping_rings_the_webhook_and_succeeds(deployed: Deployed) -> None:
    reply = await execute(deployed.rest, PING)
    assert reply.status == 200
    assert reply.body == {
        "line": -1,
        "column": -1,
        "compiled": True,
        "success": True,
        "compileProblem": None,
        "exceptionStackTrace": None,
        "exceptionMessage": None,
    }
    # Synchronous: the ping has arrived by the time the answer does.
    [call] = deployed.receiver.calls
    event = contract.parse_payload(call.body)
    assert (event.event, event.org_id, event.case_id, event.record_id) == (
        contract.EVENT_PING,
        deployed.rest.org.id,
        None,
        None,
    )
    timestamp = call.headers[contract.HEADER_TIMESTAMP]
    assert contract.signature_matches(
        SECRET, timestamp, call.body, call.headers[contract.HEADER_SIGNATURE]
    )
    # Counted like any REST call.
    assert deployed.rest.org.api_calls.by_endpoint["tooling"] == 1
    assert reply.headers["Sforce-Limit-Info"].startswith("api-usage=")


async def test_the_generated_ping_script_runs(deployed: Deployed, tmp_path: Path) -> None:
    render_package(tmp_path, webhook_url=deployed.receiver.url, signing_secret=SECRET)
    script = (tmp_path / "scripts/apex/ping.apex").read_text()
    assert script.lstrip().startswith("//")  # comments and all
    reply = await execute(deployed.rest, script)
    assert reply.body["success"] is True, reply.body
    assert len(deployed.receiver.calls) == 1


async def test_apex_names_are_case_insensitive(deployed: Deployed) -> None:
    reply = await execute(deployed.rest, "  opensalesforcecasemanagement . PING ( ) ;\n")
    assert reply.body["success"] is True, reply.body


async def test_a_refusing_webhook_fails_the_ping_with_the_apex_exception(
    deployed: Deployed,
) -> None:
    deployed.receiver.status = 500
    reply = await execute(deployed.rest, PING)
    body = reply.body
    assert (reply.status, body["compiled"], body["success"]) == (200, True, False)
    assert body["compileProblem"] is None
    assert body["exceptionMessage"].startswith(
        "OpenSalesforceCaseManagement.WebhookException: OpenCX webhook answered 500 "
        'Internal Server Error: {"status": "queued"}'
    )
    trace = body["exceptionStackTrace"].splitlines()
    assert trace[0].startswith("Class.OpenSalesforceCaseManagement.ping: line ")
    assert trace[-1] == "AnonymousBlock: line 1, column 1"
    assert len(deployed.receiver.calls) == 1  # sent once, not retried


async def test_an_unreachable_webhook_fails_the_ping_with_a_callout_exception(
    deployed: Deployed, unused_tcp_port: int
) -> None:
    deployed.rest.org.metadata.set_named_credential(
        "OpenCX_Integration", f"http://127.0.0.1:{unused_tcp_port}/nowhere"
    )
    reply = await execute(deployed.rest, PING)
    assert reply.body["success"] is False
    assert reply.body["exceptionMessage"].startswith("System.CalloutException: ")
    assert reply.body["exceptionStackTrace"].startswith("Class.OpenSalesforceCaseManagement.send:")
    assert deployed.receiver.calls == []


async def test_without_the_class_the_ping_does_not_compile(deployed: Deployed) -> None:
    deployed.rest.org.metadata.remove_metadata("ApexClass", "OpenSalesforceCaseManagement")
    reply = await execute(deployed.rest, "\n  " + PING)
    assert reply.body == {
        "line": 2,
        "column": 3,
        "compiled": False,
        "success": False,
        "compileProblem": "Variable does not exist: OpenSalesforceCaseManagement",
        "exceptionStackTrace": None,
        "exceptionMessage": None,
    }
    assert deployed.receiver.calls == []


async def test_other_apex_is_not_supported(deployed: Deployed) -> None:
    reply = await execute(deployed.rest, "System.debug('hello');")
    assert reply.status == 200
    assert reply.body["compiled"] is False and reply.body["success"] is False
    assert "not supported by the emulator" in reply.body["compileProblem"].lower()
    assert deployed.receiver.calls == []
