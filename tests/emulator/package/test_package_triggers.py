"""The deployed package's triggers, as the plugin sees them: which rep actions ring
the webhook, with what, and which do not. Everything over real HTTP: the rep
works through the emulator's admin routes, the webhook lands on a real server."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta

from package_support import SECRET, WEBHOOK_PATH, Deployed, new_case, opencx_case, rep_action

from opencx_salesforce.apex import contract


def check_signed(call_headers: dict[str, str], body: bytes) -> None:
    timestamp = call_headers[contract.HEADER_TIMESTAMP]
    assert contract.timestamp_is_fresh(timestamp, datetime.now(UTC))
    assert contract.signature_matches(
        SECRET, timestamp, body, call_headers[contract.HEADER_SIGNATURE]
    )


async def test_public_reply_rings_once_with_the_contract(deployed: Deployed) -> None:
    rest, receiver = deployed.rest, deployed.receiver
    case_id = await opencx_case(rest)
    status, created = await rep_action(rest, case_id, "reply", {"text": "On our way."})
    assert status == 201, created

    [call] = await receiver.wait_for(1)
    await deployed.runtime.drain()
    assert len(receiver.calls) == 1
    assert call.path == WEBHOOK_PATH
    assert call.headers["Content-Type"] == "application/json"
    check_signed(call.headers, call.body)
    event = contract.parse_payload(call.body)
    assert event.event == contract.EVENT_CASE_COMMENT_CREATED
    assert (event.org_id, event.case_id, event.record_id) == (rest.org.id, case_id, created["id"])
    assert abs(event.occurred_at - datetime.now(UTC)) < timedelta(seconds=5)
    # The Apex's JSONGenerator writes compact JSON, fields in the contract's order.
    assert list(json.loads(call.body)) == list(contract.PAYLOAD_FIELDS)
    assert b" " not in call.body
    counters = deployed.runtime.counters
    assert (counters.jobs, counters.sent, counters.delivered, counters.failed) == (1, 1, 1, 0)


async def test_internal_note_rings_nothing(deployed: Deployed) -> None:
    case_id = await opencx_case(deployed.rest)
    status, _ = await rep_action(deployed.rest, case_id, "note", {"text": "VIP, be nice"})
    assert status == 201
    status, _ = await rep_action(
        deployed.rest, case_id, "reply", {"text": "also private", "public": False}
    )
    assert status == 201
    await deployed.runtime.drain()
    assert deployed.receiver.calls == []
    assert deployed.runtime.counters.jobs == 0


async def test_comment_on_a_case_not_from_opencx_rings_nothing(deployed: Deployed) -> None:
    other = await new_case(deployed.rest)  # no Case_From__c
    web_form = await new_case(deployed.rest, Case_From__c="web-form")
    for case_id in (other, web_form):
        status, _ = await rep_action(deployed.rest, case_id, "reply", {"text": "Hello"})
        assert status == 201
    await deployed.runtime.drain()
    assert deployed.receiver.calls == []


async def test_case_from_compares_like_apex_case_insensitively(deployed: Deployed) -> None:
    case_id = await new_case(deployed.rest, Case_From__c="OpenCX")
    await rep_action(deployed.rest, case_id, "reply", {"text": "Hello"})
    [call] = await deployed.receiver.wait_for(1)
    assert contract.parse_payload(call.body).case_id == case_id


async def test_incoming_email_rings_nothing_outgoing_email_rings_once(deployed: Deployed) -> None:
    rest = deployed.rest
    case_id = await opencx_case(rest)
    incoming = await rest.post(
        "sobjects/EmailMessage",
        {
            "ParentId": case_id,
            "Incoming": True,
            "FromAddress": "cust@example.com",
            "ToAddress": "support@acme.example",
            "Subject": "Still on fire",
            "TextBody": "Help",
            "Status": "0",
        },
    )
    assert incoming.status == 201, incoming.body
    await deployed.runtime.drain()
    assert deployed.receiver.calls == []

    status, sent = await rep_action(rest, case_id, "email", {"text": "Extinguisher shipped."})
    assert status == 201, sent
    [call] = await deployed.receiver.wait_for(1)
    event = contract.parse_payload(call.body)
    assert event.event == contract.EVENT_EMAIL_MESSAGE_CREATED
    assert (event.case_id, event.record_id) == (case_id, sent["id"])


async def test_status_changes_ring_case_updated_other_edits_do_not(deployed: Deployed) -> None:
    rest = deployed.rest
    case_id = await opencx_case(rest)
    edited = await rest.patch(f"sobjects/Case/{case_id}", {"Subject": "Printer smoking"})
    assert edited.status == 204
    await deployed.runtime.drain()
    assert deployed.receiver.calls == []

    status, closed = await rep_action(rest, case_id, "close")
    assert status == 200 and closed["isClosed"] is True
    [call] = await deployed.receiver.wait_for(1)
    event = contract.parse_payload(call.body)
    assert (event.event, event.case_id, event.record_id) == (
        contract.EVENT_CASE_UPDATED,
        case_id,
        case_id,
    )
    status, _ = await rep_action(rest, case_id, "reopen")
    assert status == 200
    calls = await deployed.receiver.wait_for(2)
    assert contract.parse_payload(calls[1].body).event == contract.EVENT_CASE_UPDATED
    await deployed.runtime.drain()
    assert len(deployed.receiver.calls) == 2


async def test_an_inactive_trigger_rings_nothing(deployed: Deployed) -> None:
    org = deployed.rest.org
    [trigger] = [
        t for t in org.records["ApexTrigger"].values() if t["Name"] == "OpenCXCaseCommentTrigger"
    ]
    org.metadata.set_apex_trigger(
        trigger["Name"], "CaseComment", trigger["Body"], status="Inactive"
    )
    case_id = await opencx_case(deployed.rest)
    await rep_action(deployed.rest, case_id, "reply", {"text": "Hello"})
    await deployed.runtime.drain()
    assert deployed.receiver.calls == []
    # The other triggers still work.
    await rep_action(deployed.rest, case_id, "close")
    [call] = await deployed.receiver.wait_for(1)
    assert contract.parse_payload(call.body).event == contract.EVENT_CASE_UPDATED


async def test_a_missing_class_rings_nothing(deployed: Deployed) -> None:
    deployed.rest.org.metadata.remove_metadata("ApexClass", "OpenSalesforceCaseManagement")
    case_id = await opencx_case(deployed.rest)
    await rep_action(deployed.rest, case_id, "reply", {"text": "Hello"})
    await rep_action(deployed.rest, case_id, "close")
    await deployed.runtime.drain()
    assert deployed.receiver.calls == []
    assert deployed.runtime.counters.jobs == 0


async def test_a_named_credential_pointing_elsewhere_reaches_elsewhere(
    deployed: Deployed, unused_tcp_port: int
) -> None:
    elsewhere = f"http://127.0.0.1:{unused_tcp_port}/hook"
    deployed.rest.org.metadata.set_named_credential("OpenCX_Integration", elsewhere)
    case_id = await opencx_case(deployed.rest)
    await rep_action(deployed.rest, case_id, "reply", {"text": "Hello"})
    await deployed.runtime.drain()
    assert deployed.receiver.calls == []
    # Nobody listens there: the callout fails, is logged, and is not retried.
    assert (deployed.runtime.counters.sent, deployed.runtime.counters.failed) == (1, 1)
    [entry] = deployed.runtime.log
    assert (entry.outcome, entry.endpoint, entry.status) == ("failed", elsewhere, None)
    assert entry.error is not None and "Unable to tunnel through proxy" in entry.error


async def test_a_missing_named_credential_fails_the_callout(deployed: Deployed) -> None:
    deployed.rest.org.metadata.remove_metadata("NamedCredential", "OpenCX_Integration")
    case_id = await opencx_case(deployed.rest)
    await rep_action(deployed.rest, case_id, "reply", {"text": "Hello"})
    await deployed.runtime.drain()
    assert deployed.receiver.calls == []
    [entry] = deployed.runtime.log
    assert entry.outcome == "failed" and "OpenCX_Integration" in (entry.error or "")


async def test_a_refused_callout_is_logged_and_never_retried(deployed: Deployed) -> None:
    deployed.receiver.status = 500
    case_id = await opencx_case(deployed.rest)
    await rep_action(deployed.rest, case_id, "reply", {"text": "Hello"})
    await deployed.receiver.wait_for(1)
    await deployed.runtime.drain()
    assert len(deployed.receiver.calls) == 1
    counters = deployed.runtime.counters
    assert (counters.sent, counters.delivered, counters.failed) == (1, 0, 1)
    [entry] = deployed.runtime.log
    assert (entry.outcome, entry.status) == ("failed", 500)


async def test_an_unsigned_package_sends_no_signature(deployed: Deployed) -> None:
    from opencx_salesforce.emulator.package import deploy_package

    deploy_package(deployed.rest.org, deployed.receiver.url, None)
    case_id = await opencx_case(deployed.rest)
    await rep_action(deployed.rest, case_id, "reply", {"text": "Hello"})
    [call] = await deployed.receiver.wait_for(1)
    assert contract.HEADER_SIGNATURE not in call.headers
    assert call.headers[contract.HEADER_TIMESTAMP].isdigit()


async def test_one_job_per_trigger_run_one_callout_per_record(deployed: Deployed) -> None:
    rest = deployed.rest
    case_id = await opencx_case(rest)
    comments = [
        {
            "attributes": {"type": "CaseComment"},
            "ParentId": case_id,
            "CommentBody": f"c{i}",
            "IsPublished": True,
        }
        for i in range(3)
    ]
    saved = await rest.post("composite/sobjects", {"allOrNone": True, "records": comments})
    assert saved.status == 200 and all(r["success"] for r in saved.body), saved.body
    calls = await deployed.receiver.wait_for(3)
    await deployed.runtime.drain()
    assert deployed.runtime.counters.jobs == 1  # one DML, one trigger run, one job
    ids = [contract.parse_payload(call.body).record_id for call in calls]
    assert ids == [r["id"] for r in saved.body]  # in order, one callout each

    for i in range(2):
        one = await rest.post(
            "sobjects/CaseComment",
            {"ParentId": case_id, "CommentBody": f"d{i}", "IsPublished": True},
        )
        assert one.status == 201
    await deployed.receiver.wait_for(5)
    await deployed.runtime.drain()
    assert deployed.runtime.counters.jobs == 3


async def test_a_rolled_back_composite_rings_nothing(deployed: Deployed) -> None:
    rest = deployed.rest
    case_id = await opencx_case(rest)
    comment = {"ParentId": case_id, "CommentBody": "will vanish", "IsPublished": True}
    url = "/services/data/v62.0/sobjects"
    rolled_back = await rest.post(
        "composite",
        {
            "allOrNone": True,
            "compositeRequest": [
                {
                    "method": "POST",
                    "url": f"{url}/CaseComment",
                    "referenceId": "c1",
                    "body": comment,
                },
                {
                    "method": "PATCH",
                    "url": f"{url}/Case/{case_id}",
                    "referenceId": "close",
                    "body": {"Status": "Closed"},
                },
                {
                    "method": "POST",
                    "url": f"{url}/Case",
                    "referenceId": "bad",
                    "body": {"Bogus__c": 1},
                },
            ],
        },
    )
    assert rolled_back.status == 200
    results = rolled_back.body["compositeResponse"]
    assert results[2]["httpStatusCode"] == 400
    assert results[0]["body"][0]["errorCode"] == "PROCESSING_HALTED"
    assert rest.org.records["CaseComment"] == {}
    await deployed.runtime.drain()
    assert deployed.receiver.calls == []
    assert deployed.runtime.counters.jobs == 0

    committed = await rest.post(
        "composite",
        {
            "allOrNone": True,
            "compositeRequest": [
                {
                    "method": "POST",
                    "url": f"{url}/CaseComment",
                    "referenceId": "c1",
                    "body": comment,
                },
                {
                    "method": "PATCH",
                    "url": f"{url}/Case/{case_id}",
                    "referenceId": "close",
                    "body": {"Status": "Closed"},
                },
            ],
        },
    )
    assert [r["httpStatusCode"] for r in committed.body["compositeResponse"]] == [201, 204]
    calls = await deployed.receiver.wait_for(2)
    await deployed.runtime.drain()
    events = [contract.parse_payload(call.body).event for call in calls]
    assert events == [contract.EVENT_CASE_COMMENT_CREATED, contract.EVENT_CASE_UPDATED]


async def test_writes_through_the_python_api_ring_too(deployed: Deployed) -> None:
    """Tests and the demo may write without HTTP: each write is its own transaction."""
    org = deployed.rest.org
    case_id = org.create("Case", {"Subject": "Direct", "Case_From__c": "opencx"})
    started = time.monotonic()
    org.create("CaseComment", {"ParentId": case_id, "CommentBody": "Hi", "IsPublished": True})
    [call] = await deployed.receiver.wait_for(1)
    assert call.at >= started
    assert contract.parse_payload(call.body).case_id == case_id
