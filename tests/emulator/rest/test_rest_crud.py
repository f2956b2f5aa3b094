"""Create, read, update and delete one record over real HTTP."""

from __future__ import annotations

import re

from emulator_support import RestCaller

DATETIME = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}\+0000$")


async def test_create_returns_201_with_the_new_id(rest: RestCaller) -> None:
    """dome_sobject_create.htm: 201 {"id", "errors": [], "success": true}."""
    reply = await rest.post("sobjects/Case", {"Subject": "Printer on fire"})
    assert reply.status == 201
    body = reply.body
    assert body["success"] is True
    assert body["errors"] == []
    assert body["id"].startswith("500") and len(body["id"]) == 18


async def test_new_case_has_number_defaults_and_audit_fields(rest: RestCaller) -> None:
    """sfFieldRef Case: CaseNumber auto-number, Priority default Medium, Status
    default (CaseStatus.IsDefault), IsClosed derived; audit fields on every record;
    dateTimes as 2013-05-20T20:49:32.000+0000 (resources_query.htm sample)."""
    created = (await rest.post("sobjects/Case", {"Subject": "Hello"})).body["id"]
    second = (await rest.post("sobjects/Case", {"Subject": "Again"})).body["id"]
    reply = await rest.get(f"sobjects/Case/{created}")
    assert reply.status == 200
    case = reply.body
    assert case["attributes"] == {
        "type": "Case",
        "url": f"/services/data/v62.0/sobjects/Case/{created}",
    }
    assert case["Id"] == created
    assert case["CaseNumber"] == "00001000"
    assert (await rest.get(f"sobjects/Case/{second}")).body["CaseNumber"] == "00001001"
    assert case["Priority"] == "Medium"
    assert case["Status"] == "New"
    assert case["IsClosed"] is False and case["ClosedDate"] is None
    assert case["IsDeleted"] is False
    assert case["CreatedById"] == rest.org.default_user_id
    assert case["OwnerId"] == rest.org.default_user_id
    for stamp in ("CreatedDate", "LastModifiedDate", "SystemModstamp"):
        assert DATETIME.match(case[stamp]), case[stamp]
    assert case["OpenCX_Session_Id__c"] is None  # custom fields of the seed exist


async def test_get_with_fields_returns_only_those(rest: RestCaller) -> None:
    """resources_sobject_retrieve.htm: ?fields= limits the fields returned."""
    created = (await rest.post("sobjects/Case", {"Subject": "Only this"})).body["id"]
    reply = await rest.get(f"sobjects/Case/{created}?fields=Subject,casenumber")
    assert reply.status == 200
    assert set(reply.body) == {"attributes", "Subject", "CaseNumber"}
    bad = await rest.get(f"sobjects/Case/{created}?fields=Nope__c")
    assert bad.status == 400
    assert bad.body[0]["errorCode"] == "INVALID_FIELD"
    assert bad.body[0]["message"].startswith("No such column 'Nope__c' on entity 'Case'.")


async def test_patch_updates_and_closing_sets_closed_date(rest: RestCaller) -> None:
    """dome_update_fields.htm: PATCH → 204; object_reference Case: IsClosed follows
    the Status' CaseStatus.IsClosed, ClosedDate set on close, cleared on reopen."""
    created = (await rest.post("sobjects/Case", {"Subject": "To close"})).body["id"]
    before = (await rest.get(f"sobjects/Case/{created}")).body
    rest.org.state.clock.advance(5)
    reply = await rest.patch(f"sobjects/Case/{created}", {"Status": "Closed", "Subject": "Done"})
    assert reply.status == 204 and reply.text == ""
    closed = (await rest.get(f"sobjects/Case/{created}")).body
    assert closed["Subject"] == "Done"
    assert closed["IsClosed"] is True
    assert DATETIME.match(closed["ClosedDate"])
    assert closed["LastModifiedDate"] > before["LastModifiedDate"]
    assert closed["CreatedDate"] == before["CreatedDate"]
    await rest.patch(f"sobjects/Case/{created}", {"Status": "Working"})
    reopened = (await rest.get(f"sobjects/Case/{created}")).body
    assert reopened["IsClosed"] is False and reopened["ClosedDate"] is None


async def test_delete_then_get_says_entity_is_deleted(rest: RestCaller) -> None:
    """dome_delete_record.htm: DELETE → 204; a deleted record answers
    ENTITY_IS_DELETED (SALESFORCE.md §9 body)."""
    created = (await rest.post("sobjects/Case", {"Subject": "Bye"})).body["id"]
    assert (await rest.delete(f"sobjects/Case/{created}")).status == 204
    for reply in (
        await rest.get(f"sobjects/Case/{created}"),
        await rest.delete(f"sobjects/Case/{created}"),
        await rest.patch(f"sobjects/Case/{created}", {"Subject": "x"}),
    ):
        assert reply.status == 404
        assert reply.body == [
            {"message": "entity is deleted", "errorCode": "ENTITY_IS_DELETED", "fields": []}
        ]


async def test_deleting_a_case_deletes_its_comments(rest: RestCaller) -> None:
    """sforce_api_objects_casecomment.htm: comments belong to their Case (describe
    childRelationships cascadeDelete)."""
    case_id = (await rest.post("sobjects/Case", {"Subject": "Parent"})).body["id"]
    comment = (
        await rest.post("sobjects/CaseComment", {"ParentId": case_id, "CommentBody": "hi"})
    ).body["id"]
    await rest.delete(f"sobjects/Case/{case_id}")
    reply = await rest.get(f"sobjects/CaseComment/{comment}")
    assert reply.body[0]["errorCode"] == "ENTITY_IS_DELETED"


async def test_unknown_record_and_unknown_object_are_404(rest: RestCaller) -> None:
    """errorcodes.htm 404 "The requested resource does not exist"; a path segment
    that is not an Id reads as an external-ID field (recorded 404 body)."""
    missing = await rest.get("sobjects/Case/500000000000001AAA")
    assert missing.status == 404
    assert missing.body == [
        {"message": "The requested resource does not exist", "errorCode": "NOT_FOUND"}
    ]
    assert (await rest.get("sobjects/Nope__c/describe")).status == 404
    assert (await rest.post("sobjects/Nope__c", {"Name": "x"})).status == 404
    not_an_id = await rest.get("sobjects/Case/banana")
    assert not_an_id.status == 404
    assert not_an_id.body[0]["message"] == (
        "Provided external ID field does not exist or is not accessible: banana"
    )


async def test_contact_name_is_derived(rest: RestCaller) -> None:
    """sforce_api_objects_contact.htm: Name concatenates FirstName and LastName and
    is read-only."""
    created = (
        await rest.post("sobjects/Contact", {"FirstName": "Ada", "LastName": "Lovelace"})
    ).body["id"]
    assert (await rest.get(f"sobjects/Contact/{created}")).body["Name"] == "Ada Lovelace"
    refused = await rest.patch(f"sobjects/Contact/{created}", {"Name": "Other"})
    assert refused.body[0]["errorCode"] == "INVALID_FIELD_FOR_INSERT_UPDATE"


async def test_case_contact_fields_follow_the_contact(rest: RestCaller) -> None:
    """sfFieldRef Case: ContactEmail/ContactPhone are read-only copies from the
    Contact."""
    contact = (
        await rest.post(
            "sobjects/Contact", {"LastName": "Lee", "Email": "lee@example.com", "Phone": "123"}
        )
    ).body["id"]
    case_id = (await rest.post("sobjects/Case", {"ContactId": contact})).body["id"]
    case = (await rest.get(f"sobjects/Case/{case_id}")).body
    assert case["ContactEmail"] == "lee@example.com"
    assert case["ContactPhone"] == "123"


async def test_internal_comments_field_adds_a_private_comment(rest: RestCaller) -> None:
    """sfFieldRef Case Comments ("Internal Comments"): writing it adds a
    CaseComment that is not published."""
    case_id = (await rest.post("sobjects/Case", {"Comments": "Called the customer"})).body["id"]
    comments = [
        record
        for record in rest.org.records["CaseComment"].values()
        if record["ParentId"] == case_id
    ]
    assert [c["CommentBody"] for c in comments] == ["Called the customer"]
    assert comments[0]["IsPublished"] is False


async def test_users_and_organization_come_from_the_seed(rest: RestCaller) -> None:
    """sforce_api_objects_user.htm / _organization.htm: the org's own records are
    readable; Users can't be created through this API."""
    admin_id = rest.org.user_id_for("admin@acme.example")
    user = (await rest.get(f"sobjects/User/{admin_id}")).body
    assert user["Username"] == "admin@acme.example"
    assert user["Name"] == "Ada Admin"
    assert user["UserType"] == "Standard"
    assert user["IsActive"] is True
    org = (await rest.get(f"sobjects/Organization/{rest.org.id}")).body
    assert org["Name"] == "Acme Support"
    refused = await rest.post("sobjects/User", {"LastName": "X"})
    assert refused.status == 400
    assert refused.body[0]["errorCode"] == "INSUFFICIENT_ACCESS_OR_READONLY"


async def test_post_to_id_path_creates(rest: RestCaller) -> None:
    """resources_sobject_upsert_post.htm: POST /sobjects/{Type}/Id creates a record
    (v37.0+)."""
    reply = await rest.post("sobjects/Case/Id", {"Subject": "Via Id"})
    assert reply.status == 201
    assert (await rest.get(f"sobjects/Case/{reply.body['id']}")).body["Subject"] == "Via Id"


async def test_method_not_allowed(rest: RestCaller) -> None:
    """errorcodes.htm 405: the method isn't allowed for the resource."""
    reply = await rest.call("PUT", "sobjects/Case")
    assert reply.status == 405
    assert reply.body[0]["errorCode"] == "METHOD_NOT_ALLOWED"
