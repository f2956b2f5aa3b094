"""sObject Collections (/composite/sobjects) over HTTP.

Docs followed: api_rest resources_composite_sobjects_collections_create.htm,
_update.htm, _upsert.htm, _retrieve.htm, _delete.htm (examples quoted in the
module under test); SALESFORCE.md §3.
"""

from __future__ import annotations

from typing import Any

from composite_support import api_calls, comment, live
from emulator_support import RestCaller

ROLLED_BACK = {
    "statusCode": "ALL_OR_NONE_OPERATION_ROLLED_BACK",
    "message": "Record rolled back because not all records were valid and the request was "
    "using AllOrNone header",
    "fields": [],
}


def record(sobject: str, **fields: Any) -> dict[str, Any]:
    return {"attributes": {"type": sobject}, **fields}


async def test_create_mixed_types_partial_success(rest: RestCaller) -> None:
    """Create: records of different types, results in input order; with allOrNone
    false the valid ones are saved and the invalid one reports its own error."""
    before = api_calls(rest.org)
    reply = await rest.post(
        "composite/sobjects",
        {
            "allOrNone": False,
            "records": [
                record("Account", Name="Acme"),
                record("Contact", FirstName="Erica"),  # LastName is required
                record("Case", Subject="Broken printer"),
            ],
        },
    )
    assert api_calls(rest.org) == before + 1
    assert reply.status == 200
    account, contact, case = reply.body
    assert account["success"] is True and account["errors"] == []
    assert contact == {
        "success": False,
        "errors": [
            {
                "statusCode": "REQUIRED_FIELD_MISSING",
                "message": "Required fields are missing: [LastName]",
                "fields": ["LastName"],
            }
        ],
    }
    assert case["success"] is True
    assert [a["Id"] for a in live(rest.org, "Account")] == [account["id"]]
    assert [c["Id"] for c in live(rest.org, "Case")] == [case["id"]]
    assert live(rest.org, "Contact") == []


async def test_create_all_or_none_rolls_back(rest: RestCaller) -> None:
    """Create with allOrNone true: the failing record keeps its error, the others
    answer ALL_OR_NONE_OPERATION_ROLLED_BACK (no id: nothing was created)."""
    reply = await rest.post(
        "composite/sobjects",
        {
            "allOrNone": True,
            "records": [record("Case", Subject="a"), record("Case", Subject="s" * 256)],
        },
    )
    assert reply.status == 200
    first, second = reply.body
    assert first == {"success": False, "errors": [ROLLED_BACK]}
    assert second["success"] is False
    assert second["errors"][0]["statusCode"] == "STRING_TOO_LONG"
    assert live(rest.org, "Case") == []


async def test_more_than_200_records_is_rejected(rest: RestCaller) -> None:
    """ "The list can contain up to 200 objects"; beyond: 400 EXCEEDED_ID_LIMIT."""
    case_id = (await rest.post("sobjects/Case", {"Subject": "S"})).body["id"]
    records = [comment(case_id, f"{n}") for n in range(201)]
    reply = await rest.post("composite/sobjects", {"records": records})
    assert reply.status == 400
    assert reply.body == [
        {
            "message": "record limit reached. cannot submit more than 200 records into this call",
            "errorCode": "EXCEEDED_ID_LIMIT",
        }
    ]
    assert live(rest.org, "CaseComment") == []
    accepted = await rest.post("composite/sobjects", {"records": records[:200]})
    assert accepted.status == 200 and len(live(rest.org, "CaseComment")) == 200


async def test_malformed_requests_answer_400(rest: RestCaller) -> None:
    """ "Each object must contain an attributes map. The map must contain a value for
    type." — "If the request isn't well formed, the API returns a 400"."""
    for body in (
        {"records": [{"Subject": "no attributes"}]},
        {"records": [{"attributes": {}, "Subject": "no type"}]},
        {"records": "nope"},
        ["not", "an", "object"],
    ):
        reply = await rest.post("composite/sobjects", body)
        assert reply.status == 400, body
    assert live(rest.org, "Case") == []


async def test_more_than_10_chunks_is_rejected(rest: RestCaller) -> None:
    """A new chunk starts at each change of type; "A single request can process up
    to 10 chunks"."""
    alternating = [
        record("Case", Subject="c") if n % 2 else record("Account", Name="a") for n in range(11)
    ]
    reply = await rest.post("composite/sobjects", {"records": alternating})
    assert reply.status == 400
    assert live(rest.org, "Case") == [] and live(rest.org, "Account") == []
    reply = await rest.post("composite/sobjects", {"records": alternating[:10]})
    assert reply.status == 200


async def test_update_both_ways(rest: RestCaller) -> None:
    """Update: each record carries its id; a wrong Id answers MALFORMED_ID "Contact
    ID: id value of incorrect type: ..." (the doc's example); with allOrNone true the
    good record is rolled back and keeps its id in the result."""
    case_id = (await rest.post("sobjects/Case", {"Subject": "old"})).body["id"]
    records = [
        record("Case", id=case_id, Subject="new"),
        record("Contact", id=case_id, Title="wrong type of Id"),
    ]
    rolled = await rest.patch("composite/sobjects", {"allOrNone": True, "records": records})
    assert rolled.status == 200
    assert rolled.body[0] == {"id": case_id, "success": False, "errors": [ROLLED_BACK]}
    assert rolled.body[1] == {
        "success": False,
        "errors": [
            {
                "statusCode": "MALFORMED_ID",
                "message": f"Contact ID: id value of incorrect type: {case_id}",
                "fields": ["Id"],
            }
        ],
    }
    assert (unchanged := rest.org.live("Case", case_id)) and unchanged["Subject"] == "old"
    partial = await rest.patch("composite/sobjects", {"allOrNone": False, "records": records})
    assert partial.body[0] == {"id": case_id, "success": True, "errors": []}
    assert partial.body[1]["success"] is False
    assert (changed := rest.org.live("Case", case_id)) and changed["Subject"] == "new"


async def test_upsert_by_external_id(rest: RestCaller) -> None:
    """Upsert (v46.0+): matched on the external ID value in each body; results carry
    "created"."""
    url = "composite/sobjects/Case/OpenCX_Session_Id__c"
    first = await rest.patch(
        url, {"records": [record("Case", OpenCX_Session_Id__c="AAA", Subject="one")]}
    )
    assert first.status == 200
    (created,) = first.body
    assert created["created"] is True and created["success"] is True
    second = await rest.patch(
        url,
        {
            "records": [
                record("Case", OpenCX_Session_Id__c="AAA", Subject="one again"),
                record("Case", OpenCX_Session_Id__c="BBB", Subject="two"),
            ]
        },
    )
    updated, inserted = second.body
    assert updated == {"id": created["id"], "success": True, "errors": [], "created": False}
    assert inserted["created"] is True
    subjects = sorted(case["Subject"] for case in live(rest.org, "Case"))
    assert subjects == ["one again", "two"]
    wrong_type = await rest.patch(url, {"records": [record("Account", Name="x")]})
    assert wrong_type.status == 400
    old = await rest.patch(f"/services/data/v45.0/{url}", {"records": []})
    assert old.status == 404


async def test_retrieve_by_ids_and_fields(rest: RestCaller) -> None:
    """Retrieve: one entry per Id, in order; an Id that matches nothing is null."""
    first = (await rest.post("sobjects/Case", {"Subject": "one"})).body["id"]
    second = (await rest.post("sobjects/Case", {"Subject": "two"})).body["id"]
    missing = "500000000000000AAA"
    reply = await rest.get(
        f"composite/sobjects/Case?ids={first},{missing},{second}&fields=id,subject"
    )
    assert reply.status == 200
    one, nothing, two = reply.body
    assert one == {
        "attributes": {"type": "Case", "url": f"/services/data/v62.0/sobjects/Case/{first}"},
        "Id": first,
        "Subject": "one",
    }
    assert nothing is None
    assert two["Subject"] == "two"
    bad_field = await rest.get(f"composite/sobjects/Case?ids={first}&fields=Nope__c")
    assert bad_field.status == 400
    by_body = await rest.post("composite/sobjects/Case", {"ids": [second], "fields": ["Subject"]})
    assert by_body.body[0]["Subject"] == "two"


async def test_delete_both_ways(rest: RestCaller) -> None:
    """Delete ?ids=...&allOrNone=: a malformed Id answers MALFORMED_ID "malformed id
    ..." (the doc's example); with allOrNone true nothing is deleted."""
    case_id = (await rest.post("sobjects/Case", {"Subject": "S"})).body["id"]
    account_id = (await rest.post("sobjects/Account", {"Name": "A"})).body["id"]
    bad = "001RM000003oLrB000"
    rolled = await rest.delete(f"composite/sobjects?ids={case_id},{bad}&allOrNone=true")
    assert rolled.status == 200
    assert rolled.body == [
        {"id": case_id, "success": False, "errors": [ROLLED_BACK]},
        {
            "success": False,
            "errors": [
                {"statusCode": "MALFORMED_ID", "message": f"malformed id {bad}", "fields": []}
            ],
        },
    ]
    assert len(live(rest.org, "Case")) == 1
    partial = await rest.delete(f"composite/sobjects?ids={case_id},{account_id},{bad}")
    assert [item["success"] for item in partial.body] == [True, True, False]
    assert live(rest.org, "Case") == [] and live(rest.org, "Account") == []


async def test_collections_need_v42(rest: RestCaller) -> None:
    """sObject Collections are available in API version 42.0 and later."""
    reply = await rest.post("/services/data/v41.0/composite/sobjects", {"records": []})
    assert reply.status == 404
