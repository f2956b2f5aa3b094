"""The package at the edges of a Case's life: a comment made public later, a draft
sent later, a Case deleted, a Case merged into another. Each rings once, with what
the generated Apex would send; what doesn't change the contact's view rings nothing.
Everything over real HTTP: rep actions through the emulator's routes, REST for the
rest, the webhook on a real server."""

from __future__ import annotations

import json

from emulator_support import RestCaller
from package_support import Deployed, WebhookReceiver, new_case, opencx_case, rep_action

from opencx_salesforce.apex import contract
from opencx_salesforce.emulator.package import deploy_package


async def test_a_comment_made_public_later_rings_once(deployed: Deployed) -> None:
    rest, receiver = deployed.rest, deployed.receiver
    case_id = await opencx_case(rest)
    status, note = await rep_action(rest, case_id, "note", {"text": "Checking with billing"})
    assert status == 201
    await deployed.runtime.drain()
    assert receiver.calls == [], "an internal comment rings nothing"

    status, body = await rep_action(rest, case_id, "publish", {"commentId": note["id"]})
    assert status == 200, body
    [call] = await receiver.wait_for(1)
    event = contract.parse_payload(call.body)
    assert event.event == contract.EVENT_CASE_COMMENT_PUBLISHED
    assert (event.case_id, event.record_id) == (case_id, note["id"])

    # Editing it again (still public) or publishing it twice rings nothing more.
    reply = await rest.patch(f"sobjects/CaseComment/{note['id']}", {"CommentBody": "Edited"})
    assert reply.status == 204, reply.body
    await rep_action(rest, case_id, "publish", {"commentId": note["id"]})
    await deployed.runtime.drain()
    assert len(receiver.calls) == 1


async def test_unpublishing_a_comment_rings_nothing(deployed: Deployed) -> None:
    rest = deployed.rest
    case_id = await opencx_case(rest)
    status, reply = await rep_action(rest, case_id, "reply", {"text": "Public answer"})
    assert status == 201
    await deployed.receiver.wait_for(1)
    patched = await rest.patch(f"sobjects/CaseComment/{reply['id']}", {"IsPublished": False})
    assert patched.status == 204, patched.body
    await deployed.runtime.drain()
    assert [contract.parse_payload(c.body).event for c in deployed.receiver.calls] == [
        contract.EVENT_CASE_COMMENT_CREATED
    ]


async def test_a_draft_rings_only_when_it_is_sent(deployed: Deployed) -> None:
    rest, receiver = deployed.rest, deployed.receiver
    case_id = await opencx_case(rest)
    status, draft = await rep_action(rest, case_id, "draft", {"text": "Here is your refund"})
    assert status == 201, draft
    await deployed.runtime.drain()
    assert receiver.calls == [], "a draft is not a reply yet"

    status, sent = await rep_action(rest, case_id, "send", {"emailId": draft["id"]})
    assert status == 200, sent
    [call] = await receiver.wait_for(1)
    event = contract.parse_payload(call.body)
    assert event.event == contract.EVENT_EMAIL_MESSAGE_SENT
    assert (event.case_id, event.record_id) == (case_id, draft["id"])
    email = await rest.get(f"sobjects/EmailMessage/{draft['id']}")
    assert email.body["Status"] == "3"


async def test_a_draft_saved_by_rest_and_sent_by_rest_rings_once(deployed: Deployed) -> None:
    rest = deployed.rest
    case_id = await opencx_case(rest)
    created = await rest.post(
        "sobjects/EmailMessage",
        {
            "ParentId": case_id,
            "Incoming": False,
            "Status": "5",
            "TextBody": "Draft",
            "ToAddress": "cust@example.com",
        },
    )
    assert created.status == 201, created.body
    edited = await rest.patch(f"sobjects/EmailMessage/{created.body['id']}", {"TextBody": "Final"})
    assert edited.status == 204, edited.body
    await deployed.runtime.drain()
    assert deployed.receiver.calls == [], "editing a draft rings nothing"
    sent = await rest.patch(f"sobjects/EmailMessage/{created.body['id']}", {"Status": "3"})
    assert sent.status == 204, sent.body
    [call] = await deployed.receiver.wait_for(1)
    assert contract.parse_payload(call.body).event == contract.EVENT_EMAIL_MESSAGE_SENT


async def test_a_deleted_case_rings_case_deleted_without_a_master(deployed: Deployed) -> None:
    rest, receiver = deployed.rest, deployed.receiver
    case_id = await opencx_case(rest)
    reply = await rest.delete(f"sobjects/Case/{case_id}")
    assert reply.status == 204, reply.body
    [call] = await receiver.wait_for(1)
    event = contract.parse_payload(call.body)
    assert event.event == contract.EVENT_CASE_DELETED
    assert (event.case_id, event.record_id, event.master_record_id) == (case_id, case_id, None)
    assert list(json.loads(call.body)) == list(contract.payload_fields(event.event))
    assert json.loads(call.body)[contract.FIELD_MASTER_RECORD_ID] is None


async def test_deleting_a_case_not_from_opencx_rings_nothing(deployed: Deployed) -> None:
    other = await new_case(deployed.rest)
    assert (await deployed.rest.delete(f"sobjects/Case/{other}")).status == 204
    await deployed.runtime.drain()
    assert deployed.receiver.calls == []


async def test_a_merged_case_rings_case_deleted_naming_the_winner(deployed: Deployed) -> None:
    rest, receiver = deployed.rest, deployed.receiver
    winner = await opencx_case(rest, OpenCX_Session_Id__c="sess_winner")
    loser = await opencx_case(rest, OpenCX_Session_Id__c="sess_loser")
    status, body = await rep_action(rest, loser, "merge", {"into": winner})
    assert status == 200, body
    assert (body["isDeleted"], body["masterRecordId"]) == (True, winner)

    [call] = await receiver.wait_for(1)
    event = contract.parse_payload(call.body)
    assert event.event == contract.EVENT_CASE_DELETED
    assert (event.case_id, event.master_record_id) == (loser, winner)
    await deployed.runtime.drain()
    assert len(receiver.calls) == 1, "the winner's update changes no Status: no case.updated"


async def test_a_package_without_email_deploys_complete_and_rings_for_the_rest(
    rest: RestCaller, receiver: WebhookReceiver
) -> None:
    runtime = deploy_package(rest.org, receiver.url, None, include_email=False)
    deployment = runtime.deployment()
    assert "OpenCXEmailMessageTrigger" not in deployment.triggers
    assert deployment.complete, deployment.as_dict()
    case_id = await opencx_case(rest)
    status, _ = await rep_action(rest, case_id, "email", {"text": "Sent from Outlook"})
    assert status == 201
    await runtime.drain()
    assert receiver.calls == [], "no EmailMessage trigger in this package"
    await rep_action(rest, case_id, "reply", {"text": "Public"})
    [call] = await receiver.wait_for(1)
    assert contract.parse_payload(call.body).event == contract.EVENT_CASE_COMMENT_CREATED


async def test_the_legacy_named_credential_deploys_the_same_endpoint(
    rest: RestCaller, receiver: WebhookReceiver
) -> None:
    runtime = deploy_package(rest.org, receiver.url, None, legacy_named_credential=True)
    assert runtime.deployment().endpoint == receiver.url
    case_id = await opencx_case(rest)
    await rep_action(rest, case_id, "reply", {"text": "Public"})
    [call] = await receiver.wait_for(1)
    assert contract.parse_payload(call.body).case_id == case_id


async def test_publishing_many_comments_in_one_save_is_one_job(deployed: Deployed) -> None:
    rest = deployed.rest
    case_id = await opencx_case(rest)
    notes = []
    for i in range(3):
        status, note = await rep_action(rest, case_id, "note", {"text": f"n{i}"})
        assert status == 201
        notes.append(note["id"])
    await deployed.runtime.drain()
    jobs_before = deployed.runtime.counters.jobs
    records = [
        {"attributes": {"type": "CaseComment"}, "id": note, "IsPublished": True} for note in notes
    ]
    saved = await rest.patch("composite/sobjects", {"allOrNone": True, "records": records})
    assert saved.status == 200 and all(r["success"] for r in saved.body), saved.body
    calls = await deployed.receiver.wait_for(3)
    await deployed.runtime.drain()
    assert deployed.runtime.counters.jobs - jobs_before == 1, "one DML, one trigger run, one job"
    assert [contract.parse_payload(c.body).record_id for c in calls] == notes


async def test_deleting_many_cases_in_one_save_is_one_job(deployed: Deployed) -> None:
    rest = deployed.rest
    cases = [await opencx_case(rest, OpenCX_Session_Id__c=f"s{i}") for i in range(3)]
    for case_id in cases:  # comments go with their Case and fire no trigger of their own
        await rep_action(rest, case_id, "reply", {"text": "Public"})
    await deployed.receiver.wait_for(3)
    await deployed.runtime.drain()
    jobs_before = deployed.runtime.counters.jobs
    ids = ",".join(cases)
    deleted = await rest.delete(f"composite/sobjects?ids={ids}&allOrNone=true")
    assert deleted.status == 200 and all(r["success"] for r in deleted.body), deleted.body
    calls = (await deployed.receiver.wait_for(6))[3:]
    await deployed.runtime.drain()
    assert deployed.runtime.counters.jobs - jobs_before == 1, "one trigger run for the Cases"
    events = [contract.parse_payload(c.body) for c in calls]
    assert {(e.event, e.case_id) for e in events} == {
        (contract.EVENT_CASE_DELETED, case_id) for case_id in cases
    }
