"""POST /composite/tree/{SObject} over HTTP.

Docs followed: api_rest resources_composite_sobject_tree.htm ("sObject Tree"),
requests_composite_sobject_tree.htm, responses_composite_sobject_tree.htm,
dome_composite_sobject_tree_create.htm ("Create Nested Records"); SALESFORCE.md §3.
"""

from __future__ import annotations

from typing import Any

from composite_support import api_calls, live
from emulator_support import RestCaller


def case(ref: str, subject: str, *comments: dict[str, Any], **extra: Any) -> dict[str, Any]:
    record: dict[str, Any] = {
        "attributes": {"type": "Case", "referenceId": ref},
        "Subject": subject,
    }
    if comments:
        record["CaseComments"] = {"records": list(comments)}
    record.update(extra)
    return record


def note(ref: str, text: str) -> dict[str, Any]:
    return {"attributes": {"type": "CaseComment", "referenceId": ref}, "CommentBody": text}


async def test_tree_creates_nested_records_and_links_children(rest: RestCaller) -> None:
    """Children sit under the child relationship name and get their lookup to the
    parent set; 201 {"hasErrors": false, "results": [{"referenceId", "id"}]} lists
    roots first, then the next level (the doc's example order); one API call."""
    before = api_calls(rest.org)
    reply = await rest.post(
        "composite/tree/Case",
        {
            "records": [
                case("ref1", "First", note("ref2", "a"), note("ref3", "b")),
                case("ref4", "Second"),
            ]
        },
    )
    assert api_calls(rest.org) == before + 1
    assert reply.status == 201
    assert reply.body["hasErrors"] is False
    results = reply.body["results"]
    assert [item["referenceId"] for item in results] == ["ref1", "ref4", "ref2", "ref3"]
    ids = {item["referenceId"]: item["id"] for item in results}
    comments = {c["Id"]: c for c in live(rest.org, "CaseComment")}
    assert comments[ids["ref2"]]["ParentId"] == ids["ref1"]
    assert comments[ids["ref3"]]["CommentBody"] == "b"
    assert sorted(c["Subject"] for c in live(rest.org, "Case")) == ["First", "Second"]


async def test_any_error_fails_the_whole_tree(rest: RestCaller) -> None:
    """ "If an error occurs while creating a record, the entire request fails"; 400
    lists only the records in error, with "statusCode" (not errorCode)."""
    reply = await rest.post(
        "composite/tree/Case",
        {"records": [case("ref1", "ok", note("ref2", "fine"), note("ref3", "x" * 4001))]},
    )
    assert reply.status == 400
    assert reply.body["hasErrors"] is True
    (failure,) = reply.body["results"]
    assert failure["referenceId"] == "ref3"
    (error,) = failure["errors"]
    assert error["statusCode"] == "STRING_TOO_LONG"
    assert error["fields"] == ["CommentBody"]
    assert "errorCode" not in error
    assert live(rest.org, "Case") == [] and live(rest.org, "CaseComment") == []


async def test_more_than_200_records_is_rejected(rest: RestCaller) -> None:
    """Up to 200 records across all trees."""
    notes = [note(f"n{n}", f"{n}") for n in range(200)]
    reply = await rest.post("composite/tree/Case", {"records": [case("root", "big", *notes)]})
    assert reply.status == 400
    assert live(rest.org, "Case") == [] and live(rest.org, "CaseComment") == []
    accepted = await rest.post(
        "composite/tree/Case", {"records": [case("root", "big", *notes[:199])]}
    )
    assert accepted.status == 201
    assert len(accepted.body["results"]) == 200
    assert len(live(rest.org, "CaseComment")) == 199


async def test_more_than_5_levels_is_rejected(rest: RestCaller) -> None:
    """sObject trees up to 5 levels deep (here child Cases under "Cases")."""

    def nested(depth: int) -> dict[str, Any]:
        record = case(f"c{depth}", f"level {depth}")
        if depth > 1:
            record["Cases"] = {"records": [nested(depth - 1)]}
        return record

    reply = await rest.post("composite/tree/Case", {"records": [nested(6)]})
    assert reply.status == 400
    assert live(rest.org, "Case") == []
    accepted = await rest.post("composite/tree/Case", {"records": [nested(5)]})
    assert accepted.status == 201
    by_subject = {c["Subject"]: c for c in live(rest.org, "Case")}
    assert by_subject["level 4"]["ParentId"] == by_subject["level 5"]["Id"]


async def test_duplicate_reference_ids_are_reported_once_each(rest: RestCaller) -> None:
    """responses_composite_sobject_tree.htm: "If there are duplicate reference IDs,
    results contains one item for each instance of a duplicated ID." """
    reply = await rest.post(
        "composite/tree/Case",
        {"records": [case("dup", "a", note("dup", "b")), case("solo", "c")]},
    )
    assert reply.status == 400
    assert [item["referenceId"] for item in reply.body["results"]] == ["dup", "dup"]
    assert live(rest.org, "Case") == []


async def test_roots_must_be_of_the_url_type(rest: RestCaller) -> None:
    """requests_composite_sobject_tree.htm: each tree's root record type must match
    the sObject in the URI; an unknown object is not found."""
    reply = await rest.post("composite/tree/Case", {"records": [note("n", "stray")]})
    assert reply.status == 400
    assert live(rest.org, "CaseComment") == []
    unknown = await rest.post("composite/tree/Nope__c", {"records": []})
    assert unknown.status == 404
