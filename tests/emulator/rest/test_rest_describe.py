"""Describe: sobjects/{Type}/describe, describeGlobal, and the Tooling describe."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import replace
from typing import Any

from emulator_support import RestCaller

from opencx_salesforce.emulator.seed import default_org


def _field(describe: dict[str, Any], name: str) -> dict[str, Any]:
    return next(f for f in describe["fields"] if f["name"] == name)


async def test_case_describe_fields(rest: RestCaller) -> None:
    """dome_sobject_describe.htm field metadata; sfFieldRef Case lengths and flags
    (SALESFORCE.md §6, §8)."""
    reply = await rest.get("sobjects/Case/describe")
    assert reply.status == 200
    case = reply.body
    assert case["name"] == "Case" and case["keyPrefix"] == "500"
    subject = _field(case, "Subject")
    assert (subject["type"], subject["length"], subject["createable"], subject["nillable"]) == (
        "string",
        255,
        True,
        True,
    )
    assert _field(case, "Description")["length"] == 32000
    number = _field(case, "CaseNumber")
    assert number["autoNumber"] and not number["createable"] and not number["updateable"]
    assert number["length"] == 30 and number["idLookup"] is True
    status = _field(case, "Status")
    assert [p["value"] for p in status["picklistValues"]] == [
        "New",
        "Working",
        "Escalated",
        "Closed",
    ]
    assert [p["value"] for p in status["picklistValues"] if p["defaultValue"]] == ["New"]
    priority = _field(case, "Priority")
    assert [p["value"] for p in priority["picklistValues"] if p["defaultValue"]] == ["Medium"]
    contact = _field(case, "ContactId")
    assert contact["referenceTo"] == ["Contact"] and contact["relationshipName"] == "Contact"
    assert _field(case, "ParentId")["relationshipName"] == "Parent"
    assert _field(case, "SuppliedEmail")["type"] == "email"
    assert _field(case, "IsClosed")["updateable"] is False


async def test_custom_fields_follow_the_seed(
    rest_for: Callable[..., Awaitable[RestCaller]],
) -> None:
    """SALESFORCE.md §8: "Custom field present ⇔ fields[].name == ..."; external ID
    ⇔ externalId; unique ⇔ unique."""
    rest = await rest_for()
    session = _field((await rest.get("sobjects/Case/describe")).body, "OpenCX_Session_Id__c")
    assert session["custom"] is True
    assert session["externalId"] is True and session["unique"] is True
    assert session["caseSensitive"] is False and session["idLookup"] is True
    assert session["length"] == 255

    bare = await rest_for(replace(default_org(), custom_fields=()))
    names = {f["name"] for f in (await bare.get("sobjects/Case/describe")).body["fields"]}
    assert "OpenCX_Session_Id__c" not in names and "Case_From__c" not in names
    assert "Subject" in names


async def test_case_comment_describe(rest: RestCaller) -> None:
    """sforce_api_objects_casecomment.htm: CommentBody textarea(4000) labelled Body;
    ParentId required and create-only; IsPublished defaulted."""
    comment = (await rest.get("sobjects/CaseComment/describe")).body
    body = _field(comment, "CommentBody")
    assert (body["type"], body["length"], body["label"]) == ("textarea", 4000, "Body")
    parent = _field(comment, "ParentId")
    assert parent["nillable"] is False and parent["createable"] and not parent["updateable"]
    published = _field(comment, "IsPublished")
    assert published["defaultedOnCreate"] is True and published["type"] == "boolean"


async def test_child_relationships(rest: RestCaller) -> None:
    """SALESFORCE.md §8: childRelationships [{"childSObject":"CaseComment",
    "field":"ParentId","relationshipName":"CaseComments","cascadeDelete":true}]."""
    relations = (await rest.get("sobjects/Case/describe")).body["childRelationships"]
    comments = next(r for r in relations if r["childSObject"] == "CaseComment")
    assert comments["field"] == "ParentId"
    assert comments["relationshipName"] == "CaseComments"
    assert comments["cascadeDelete"] is True
    emails = next(r for r in relations if r["childSObject"] == "EmailMessage")
    assert emails["relationshipName"] == "EmailMessages"


async def test_describe_if_modified_since(rest: RestCaller) -> None:
    """dome_sobject_describe.htm / errorcodes.htm 304: If-Modified-Since answers 304
    when the metadata hasn't changed since."""
    first = await rest.get("sobjects/Case/describe")
    last_modified = first.headers["Last-Modified"]
    unchanged = await rest.get(
        "sobjects/Case/describe", headers={"If-Modified-Since": last_modified}
    )
    assert unchanged.status == 304 and unchanged.text == ""
    older = await rest.get(
        "sobjects/Case/describe",
        headers={"If-Modified-Since": "Mon, 01 Jan 2001 00:00:00 GMT"},
    )
    assert older.status == 200


async def test_describe_global(rest: RestCaller) -> None:
    """resources_describeGlobal.htm: {"encoding","maxBatchSize","sobjects":[...]}."""
    body = (await rest.get("sobjects")).body
    assert body["encoding"] == "UTF-8" and body["maxBatchSize"] == 200
    names = {o["name"] for o in body["sobjects"]}
    assert {"Case", "CaseComment", "EmailMessage", "Contact", "Account", "User"} <= names
    case = next(o for o in body["sobjects"] if o["name"] == "Case")
    assert case["urls"]["describe"] == "/services/data/v62.0/sobjects/Case/describe"


async def test_basic_info(rest: RestCaller) -> None:
    """resources_sobject_basic_info.htm: GET /sobjects/{Type} → objectDescribe and
    recentItems."""
    body = (await rest.get("sobjects/Case")).body
    assert body["objectDescribe"]["name"] == "Case"
    assert body["recentItems"] == []


async def test_tooling_describe(rest: RestCaller) -> None:
    """api_tooling: tooling/sobjects lists the Tooling objects; Case is not one."""
    names = {o["name"] for o in (await rest.get("tooling/sobjects")).body["sobjects"]}
    assert {"ApexClass", "ApexTrigger", "NamedCredential"} <= names
    assert "Case" not in names
    trigger = (await rest.get("tooling/sobjects/ApexTrigger/describe")).body
    assert {"Name", "Status", "IsValid", "TableEnumOrId", "ApiVersion", "Body"} <= {
        f["name"] for f in trigger["fields"]
    }
    assert (await rest.get("tooling/sobjects/Case/describe")).status == 404
