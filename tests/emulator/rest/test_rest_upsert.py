"""Upsert by external ID: PATCH /sobjects/{Type}/{ExtIdField}/{value}."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import replace

from emulator_support import RestCaller

from opencx_salesforce.emulator.seed import CustomFieldSeed, default_org

KEY = "sobjects/Case/OpenCX_Session_Id__c"


async def test_upsert_creates_then_updates(rest: RestCaller) -> None:
    """dome_upsert.htm (SALESFORCE.md §4): no match → 201 {"id","success","errors",
    "created": true}; one match → 200 with "created": false (v46.0+)."""
    created = await rest.patch(f"{KEY}/session-1", {"Subject": "First"})
    assert created.status == 201
    assert created.body["created"] is True and created.body["success"] is True
    case_id = created.body["id"]
    case = (await rest.get(f"sobjects/Case/{case_id}")).body
    assert case["OpenCX_Session_Id__c"] == "session-1"
    assert case["Subject"] == "First"

    updated = await rest.patch(f"{KEY}/session-1", {"Subject": "Second"})
    assert updated.status == 200
    assert updated.body == {"id": case_id, "success": True, "errors": [], "created": False}
    assert (await rest.get(f"sobjects/Case/{case_id}")).body["Subject"] == "Second"


async def test_upsert_matches_case_insensitively(rest: RestCaller) -> None:
    """SALESFORCE.md §4: external-ID matching is case-insensitive unless the field
    is case-sensitive."""
    case_id = (await rest.patch(f"{KEY}/ABC", {"Subject": "a"})).body["id"]
    again = await rest.patch(f"{KEY}/abc", {"Subject": "b"})
    assert again.status == 200 and again.body["id"] == case_id


async def test_upsert_before_v46_answers_204(rest: RestCaller) -> None:
    """dome_upsert.htm: before v46.0 an update by upsert is 204 No Content and
    created is absent."""
    created = await rest.patch(f"/services/data/v45.0/{KEY}/old", {"Subject": "a"})
    assert created.status == 201 and "created" not in created.body
    updated = await rest.patch(f"/services/data/v45.0/{KEY}/old", {"Subject": "b"})
    assert updated.status == 204 and updated.text == ""


async def test_upsert_with_several_matches_answers_300(
    rest_for: Callable[..., Awaitable[RestCaller]],
) -> None:
    """errorcodes.htm 300: the external ID exists in more than one record; the body
    lists the matching records and nothing changes."""
    ticket = CustomFieldSeed("Case", "Ticket__c", "string", 40, external_id=True)
    rest = await rest_for(replace(default_org(), custom_fields=(ticket,)))
    first = (await rest.post("sobjects/Case", {"Ticket__c": "T-1", "Subject": "a"})).body["id"]
    second = (await rest.post("sobjects/Case", {"Ticket__c": "T-1", "Subject": "b"})).body["id"]
    reply = await rest.patch("sobjects/Case/Ticket__c/T-1", {"Subject": "changed"})
    assert reply.status == 300
    assert sorted(reply.body) == sorted(
        [
            f"/services/data/v62.0/sobjects/Case/{first}",
            f"/services/data/v62.0/sobjects/Case/{second}",
        ]
    )
    subjects = {(await rest.get(f"sobjects/Case/{i}")).body["Subject"] for i in (first, second)}
    assert subjects == {"a", "b"}


async def test_upsert_on_unknown_field_is_404(rest: RestCaller) -> None:
    """dome_upsert.htm; recorded body "Provided external ID field does not exist or
    is not accessible: <field>"; a field that is not an external ID is refused the
    same way."""
    for field in ("Bogus__c", "Subject"):
        reply = await rest.patch(f"sobjects/Case/{field}/x", {"Subject": "a"})
        assert reply.status == 404
        message = f"Provided external ID field does not exist or is not accessible: {field}"
        assert reply.body == [{"message": message, "errorCode": "NOT_FOUND"}]


async def test_upsert_body_must_not_carry_the_key_or_id(rest: RestCaller) -> None:
    """resources_sobject_upsert_patch.htm: "Do not specify Id or an external ID field
    in the request body or an error is generated" — INVALID_FIELD "The <field> field
    should not be specified in the sobject data."."""
    reply = await rest.patch(f"{KEY}/s-9", {"Subject": "a", "OpenCX_Session_Id__c": "s-9"})
    assert reply.status == 400
    assert reply.body == [
        {
            "message": "The OpenCX_Session_Id__c field should not be specified in the "
            "sobject data.",
            "errorCode": "INVALID_FIELD",
        }
    ]
    with_id = await rest.patch(f"{KEY}/s-9", {"Id": "500000000000001AAA"})
    assert with_id.body[0]["message"] == "The Id field should not be specified in the sobject data."
    assert rest.org.find_by_field("Case", "OpenCX_Session_Id__c", "s-9") == []


async def test_update_only_refuses_to_create(rest: RestCaller) -> None:
    """resources_sobject_upsert_patch.htm: ?updateOnly=true prevents the insert."""
    reply = await rest.patch(f"{KEY}/nobody?updateOnly=true", {"Subject": "a"})
    assert reply.status == 404
    assert rest.org.find_by_field("Case", "OpenCX_Session_Id__c", "nobody") == []


async def test_get_by_external_id(rest: RestCaller) -> None:
    """resources_sobject_upsert.htm: GET /sobjects/{Type}/{field}/{value}."""
    case_id = (await rest.patch(f"{KEY}/read-me", {"Subject": "r"})).body["id"]
    reply = await rest.get(f"{KEY}/read-me")
    assert reply.status == 200 and reply.body["Id"] == case_id
    assert (await rest.get(f"{KEY}/nobody")).status == 404


async def test_upsert_validates_like_create(rest: RestCaller) -> None:
    """The upserted record is checked like a created one (STRING_TOO_LONG)."""
    reply = await rest.patch(f"{KEY}/long", {"Subject": "s" * 256})
    assert reply.status == 400 and reply.body[0]["errorCode"] == "STRING_TOO_LONG"
    assert rest.org.find_by_field("Case", "OpenCX_Session_Id__c", "long") == []
