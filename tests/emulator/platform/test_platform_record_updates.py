"""What may change after insert, as the object reference says: an EmailMessage draft
is updatable (that is how it is sent), a sent one is not, except IsExternallyVisible
and Status New → Read; CaseComment.IsPublished is updatable.
[src: object_reference sforce_api_objects_emailmessage.htm "Special Access Rules";
 sforce_api_objects_casecomment.htm IsPublished]"""

from __future__ import annotations

from emulator_support import RestCaller
from platform_support import a_case, an_email, created, only_error

DRAFT, SENT, NEW, READ = "5", "3", "0", "1"


async def test_a_draft_is_updatable_and_is_sent_by_updating_its_status(rest: RestCaller) -> None:
    case_id = await a_case(rest)
    draft = await an_email(rest, case_id, Status=DRAFT)
    edited = await rest.patch(
        f"sobjects/EmailMessage/{draft}", {"Subject": "Refund", "TextBody": "Final text"}
    )
    assert edited.status == 204, edited.body
    sent = await rest.patch(f"sobjects/EmailMessage/{draft}", {"Status": SENT})
    assert sent.status == 204, sent.body
    email = (await rest.get(f"sobjects/EmailMessage/{draft}")).body
    assert (email["Status"], email["Subject"], email["TextBody"]) == (SENT, "Refund", "Final text")


async def test_a_sent_email_is_not_editable(rest: RestCaller) -> None:
    case_id = await a_case(rest)
    email = await an_email(rest, case_id, Status=SENT)
    for change in ({"TextBody": "Rewritten history"}, {"Status": DRAFT}, {"Subject": "New"}):
        refused = await rest.patch(f"sobjects/EmailMessage/{email}", change)
        assert refused.status == 400, change
        error = only_error(refused)
        assert error["errorCode"] == "INVALID_FIELD_FOR_INSERT_UPDATE"
        assert error["fields"] == list(change)
    body = (await rest.get(f"sobjects/EmailMessage/{email}")).body
    assert (body["Status"], body["TextBody"]) == (SENT, "Hello"), "nothing changed"


async def test_a_sent_email_still_takes_is_externally_visible(rest: RestCaller) -> None:
    case_id = await a_case(rest)
    email = await an_email(rest, case_id, Status=SENT)
    reply = await rest.patch(f"sobjects/EmailMessage/{email}", {"IsExternallyVisible": True})
    assert reply.status == 204, reply.body


async def test_status_moves_only_from_new_to_read(rest: RestCaller) -> None:
    case_id = await a_case(rest)
    incoming = await an_email(rest, case_id, Incoming=True, Status=NEW)
    read = await rest.patch(f"sobjects/EmailMessage/{incoming}", {"Status": READ})
    assert read.status == 204, read.body
    back = await rest.patch(f"sobjects/EmailMessage/{incoming}", {"Status": NEW})
    assert back.status == 400
    assert only_error(back)["fields"] == ["Status"]


async def test_is_published_is_updatable_after_insert(rest: RestCaller) -> None:
    case_id = await a_case(rest)
    comment = await created(
        rest, "CaseComment", ParentId=case_id, CommentBody="Internal first", IsPublished=False
    )
    published = await rest.patch(f"sobjects/CaseComment/{comment}", {"IsPublished": True})
    assert published.status == 204, published.body
    body = (await rest.get(f"sobjects/CaseComment/{comment}")).body
    assert body["IsPublished"] is True
