"""The rep's hands over the admin routes: each action is a normal write by the rep's
user, so the audit fields, validation and derived fields are the org's own."""

from __future__ import annotations

from emulator_support import RestCaller
from rep_support import act, opencx_case, record

from opencx_salesforce.emulator.rep import Rep, RepError

REP = "rep@acme.example"
ADMIN = "admin@acme.example"


async def test_a_reply_is_a_public_comment_written_by_the_rep(rest: RestCaller) -> None:
    case_id = await opencx_case(rest)
    status, body = await act(rest, case_id, "reply", text="We are on it.")
    assert status == 201, body
    assert body["user"] == REP
    comment = await record(rest, "CaseComment", body["id"])
    assert comment["ParentId"] == case_id
    assert comment["CommentBody"] == "We are on it."
    assert comment["IsPublished"] is True
    rep_id = rest.org.user_id_for(REP)
    assert comment["CreatedById"] == comment["LastModifiedById"] == rep_id


async def test_the_user_field_chooses_who_acts(rest: RestCaller) -> None:
    case_id = await opencx_case(rest)
    status, body = await act(rest, case_id, "reply", text="Admin here.", user=ADMIN)
    assert status == 201
    comment = await record(rest, "CaseComment", body["id"])
    assert comment["CreatedById"] == rest.org.user_id_for(ADMIN)


async def test_a_note_is_internal(rest: RestCaller) -> None:
    case_id = await opencx_case(rest)
    status, body = await act(rest, case_id, "note", text="Refund approved by finance.")
    assert status == 201
    comment = await record(rest, "CaseComment", body["id"])
    assert comment["IsPublished"] is False
    status, body = await act(rest, case_id, "reply", text="private", public=False)
    assert (await record(rest, "CaseComment", body["id"]))["IsPublished"] is False


async def test_the_orgs_validation_applies(rest: RestCaller) -> None:
    case_id = await opencx_case(rest)
    status, body = await act(rest, case_id, "reply", text="x" * 4001)
    assert status == 400
    assert body["salesforce"][0]["errorCode"] == "STRING_TOO_LONG"
    assert "max length=4000" in body["error"]
    status, body = await act(rest, case_id, "reply", text="   ")
    assert (status, body["error"]) == (400, "text: required")
    status, body = await act(rest, case_id, "reply", text="hi", public="maybe")
    assert status == 400


async def test_unknown_user_case_or_org(rest: RestCaller) -> None:
    case_id = await opencx_case(rest)
    status, body = await act(rest, case_id, "reply", text="hi", user="nobody@acme.example")
    assert status == 400 and "nobody@acme.example" in body["error"]
    status, body = await act(rest, case_id, "reply", text="hi", user="portal@customer.example")
    assert status == 400  # a portal user is not a rep
    status, body = await act(rest, "500000000000000AAA", "reply", text="hi")
    assert status == 404 and body["salesforce"][0]["errorCode"] == "NOT_FOUND"
    async with rest.http.post(
        f"{rest.base_url}/_emulator/orgs/00D000000000000AAA/cases/{case_id}/reply", json={}
    ) as response:
        assert response.status == 404
    assert rest.org.records["CaseComment"] == {}


async def test_an_email_is_outgoing_from_the_rep_to_the_customer(rest: RestCaller) -> None:
    case_id = await opencx_case(rest)
    status, body = await act(rest, case_id, "email", text="A new printer ships today.")
    assert status == 201, body
    email = await record(rest, "EmailMessage", body["id"])
    assert email["ParentId"] == case_id
    assert email["Incoming"] is False
    assert email["FromName"] == "Riley Rep"
    assert email["FromAddress"] == REP
    assert email["ToAddress"] == "casey@example.com"
    assert email["Subject"] == "Re: Printer on fire"
    assert email["TextBody"] == "A new printer ships today."
    assert email["Status"] == "3"  # Sent
    assert email["MessageDate"]
    assert email["CreatedById"] == rest.org.user_id_for(REP)

    status, body = await act(rest, case_id, "email", text="Again", subject="Shipping update")
    assert (await record(rest, "EmailMessage", body["id"]))["Subject"] == "Shipping update"


async def test_an_email_needs_an_address(rest: RestCaller) -> None:
    case_id = await opencx_case(rest, SuppliedEmail=None)
    status, body = await act(rest, case_id, "email", text="Hello?")
    assert status == 400 and "no email address" in body["error"]


async def test_close_reopen_and_status_are_updates_by_the_rep(rest: RestCaller) -> None:
    case_id = await opencx_case(rest)
    rep_id = rest.org.user_id_for(REP)

    status, body = await act(rest, case_id, "close")
    assert status == 200, body
    case = await record(rest, "Case", case_id)
    assert (case["Status"], case["IsClosed"], case["LastModifiedById"]) == ("Closed", True, rep_id)
    assert case["ClosedDate"]

    status, body = await act(rest, case_id, "reopen")
    assert (status, body["status"], body["isClosed"]) == (200, "Working", False)
    case = await record(rest, "Case", case_id)
    assert case["ClosedDate"] is None

    status, body = await act(rest, case_id, "status", status="Escalated", user=ADMIN)
    assert (status, body["status"]) == (200, "Escalated")
    case = await record(rest, "Case", case_id)
    assert case["LastModifiedById"] == rest.org.user_id_for(ADMIN)
    status, body = await act(rest, case_id, "status")
    assert (status, body["error"]) == (400, "status: required")


async def test_the_python_api_does_the_same(rest: RestCaller) -> None:
    case_id = await opencx_case(rest)
    rep = Rep(rest.org)
    assert rep.user.username == REP
    comment_id = rep.reply(case_id, "From Python")
    assert rest.org.records["CaseComment"][comment_id]["CreatedById"] == rep.user.user_id
    rep.close(case_id)
    assert rest.org.records["Case"][case_id]["IsClosed"] is True
    try:
        Rep(rest.org, "ghost@acme.example")
    except RepError as error:
        assert "ghost@acme.example" in str(error)
    else:
        raise AssertionError("an unknown user must be refused")
