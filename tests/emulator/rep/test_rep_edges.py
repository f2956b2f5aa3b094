"""The rep's actions at the edges of a Case's life, over the emulator's HTTP routes:
save a draft and send it later, publish an internal comment later, merge a Case into
another, delete a Case. Plugin tests drive these the same way."""

from __future__ import annotations

from emulator_support import RestCaller
from rep_support import act, opencx_case, record


async def test_a_draft_is_saved_then_sent(rest: RestCaller) -> None:
    case_id = await opencx_case(rest)
    status, draft = await act(rest, case_id, "draft", text="Your refund is on its way")
    assert status == 201, draft
    saved = await record(rest, "EmailMessage", draft["id"])
    assert (saved["Status"], saved["Incoming"], saved["MessageDate"]) == ("5", False, None)
    status, body = await act(rest, case_id, "send", emailId=draft["id"])
    assert status == 200, body
    sent = await record(rest, "EmailMessage", draft["id"])
    assert sent["Status"] == "3" and sent["MessageDate"] is not None
    # A second send would set a new MessageDate; within the same millisecond the
    # value would be unchanged (accepted as no change), so let time pass.
    rest.org.state.clock.advance(1)
    status, body = await act(rest, case_id, "send", emailId=draft["id"])
    assert status == 400, "a sent email can't be sent again"
    assert body["salesforce"][0]["errorCode"] == "INVALID_FIELD_FOR_INSERT_UPDATE"


async def test_an_internal_comment_is_published_later(rest: RestCaller) -> None:
    case_id = await opencx_case(rest)
    status, note = await act(rest, case_id, "note", text="Shipping it today")
    assert status == 201
    status, body = await act(rest, case_id, "publish", commentId=note["id"])
    assert status == 200, body
    assert (await record(rest, "CaseComment", note["id"]))["IsPublished"] is True


async def test_ids_must_belong_to_the_case(rest: RestCaller) -> None:
    case_id = await opencx_case(rest)
    other = await opencx_case(rest, OpenCX_Session_Id__c="sess_other")
    _, note = await act(rest, other, "note", text="Elsewhere")
    status, body = await act(rest, case_id, "publish", commentId=note["id"])
    assert status == 400 and "on this Case" in body["error"]
    status, body = await act(rest, case_id, "send")
    assert (status, body["error"]) == (400, "emailId: required")


async def test_merge_and_delete_answer_with_the_case_state(rest: RestCaller) -> None:
    winner = await opencx_case(rest, OpenCX_Session_Id__c="sess_winner")
    loser = await opencx_case(rest, OpenCX_Session_Id__c="sess_loser")
    status, body = await act(rest, loser, "merge", into=winner)
    assert status == 200, body
    assert (body["caseId"], body["isDeleted"], body["masterRecordId"]) == (loser, True, winner)

    status, body = await act(rest, winner, "delete")
    assert status == 200, body
    assert (body["isDeleted"], body["masterRecordId"]) == (True, None)
    assert (await rest.get(f"sobjects/Case/{winner}")).status == 404
    status, _ = await act(rest, winner, "delete")
    assert status == 404, "a deleted Case is not there to delete again"


async def test_the_case_page_publishes_comments_and_sends_drafts(rest: RestCaller) -> None:
    case_id = await opencx_case(rest)
    _, note = await act(rest, case_id, "note", text="Internal for now")
    _, draft = await act(rest, case_id, "draft", text="Draft reply")
    path = f"/_emulator/orgs/{rest.org.id}/cases/{case_id}"
    async with rest.http.get(f"{rest.base_url}{path}") as response:
        html = await response.text()
    assert f'name="commentId" value="{note["id"]}"' in html
    assert f'name="emailId" value="{draft["id"]}"' in html
    assert f'formaction="{path}/draft"' in html

    for action, form in (
        ("publish", {"commentId": note["id"]}),
        ("send", {"emailId": draft["id"]}),
    ):
        async with rest.http.post(
            f"{rest.base_url}{path}/{action}",
            data={**form, "user": "rep@acme.example"},
            headers={"Origin": rest.base_url},
            allow_redirects=False,
        ) as response:
            assert response.status == 303
            assert "error" not in response.headers["Location"]
    assert (await record(rest, "CaseComment", note["id"]))["IsPublished"] is True
    assert (await record(rest, "EmailMessage", draft["id"]))["Status"] == "3"
    async with rest.http.get(f"{rest.base_url}{path}") as response:
        html = await response.text()
    assert 'name="commentId"' not in html and 'name="emailId"' not in html
