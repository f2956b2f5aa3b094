"""POST /composite over HTTP: limits, references, allOrNone, request rejections.

Docs followed: api_rest resources_composite_composite_post.htm ("Send Multiple
Requests Using Composite"), requests_composite.htm ("Composite Request Body"),
resources_composite_subrequest_result.htm, resources_composite_allornone.htm;
SALESFORCE.md §3.
"""

from __future__ import annotations

from typing import Any

from composite_support import V, api_calls, comment, live, sub
from emulator_support import RestCaller

ROLLED_BACK = [
    {
        "errorCode": "PROCESSING_HALTED",
        "message": "The transaction was rolled back since another operation in the same "
        "transaction failed.",
    }
]


def halted_reference(expression: str, reference_id: str) -> list[dict[str, str]]:
    return [
        {
            "errorCode": "PROCESSING_HALTED",
            "message": f"Invalid reference specified. No value for {expression} found in "
            f"{reference_id}. Provided referenceId ('{expression}') must start with a "
            "letter or a number, and it can contain only letters, numbers and "
            "underscores ('_').",
        }
    ]


def results(reply: Any) -> dict[str, dict[str, Any]]:
    assert reply.status == 200, reply.text
    return {item["referenceId"]: item for item in reply.body["compositeResponse"]}


async def test_case_upsert_and_200_comments_in_one_api_call(rest: RestCaller) -> None:
    """resources_composite_composite_post.htm: the whole series "counts as a single
    call toward your API limits"; up to 5 subrequests may be sObject Collections,
    each carrying up to 200 records — the documented way to attach many comments to
    a Case created by an upsert in the same call."""
    comments = [comment("@{refCase.id}", f"line {n}") for n in range(200)]
    before = api_calls(rest.org)
    reply = await rest.post(
        "composite",
        {
            "allOrNone": True,
            "compositeRequest": [
                sub(
                    "PATCH",
                    "sobjects/Case/OpenCX_Session_Id__c/session-42",
                    "refCase",
                    {"Subject": "Help", "Case_From__c": "opencx"},
                ),
                sub("POST", "composite/sobjects", "refComments", {"records": comments}),
            ],
        },
    )
    assert api_calls(rest.org) == before + 1
    assert reply.headers["Sforce-Limit-Info"] == f"api-usage={before + 1}/15000"
    by_ref = results(reply)
    case = by_ref["refCase"]
    assert case["httpStatusCode"] == 201
    case_id = case["body"]["id"]
    assert case["body"] == {"id": case_id, "success": True, "errors": [], "created": True}
    assert case["httpHeaders"] == {"Location": f"{V}/sobjects/Case/{case_id}"}
    saved = by_ref["refComments"]
    assert saved["httpStatusCode"] == 200
    assert len(saved["body"]) == 200 and all(item["success"] for item in saved["body"])
    stored = live(rest.org, "CaseComment")
    assert len(stored) == 200
    assert {record["ParentId"] for record in stored} == {case_id}
    assert sorted(record["CommentBody"] for record in stored) == sorted(
        f"line {n}" for n in range(200)
    )


async def test_26th_subrequest_is_rejected_and_nothing_runs(rest: RestCaller) -> None:
    """ "You can have up to 25 subrequests in a single call." The rejection body is
    the one recorded from a real org (LIMIT_EXCEEDED, referenceId null)."""
    creates = [sub("POST", "sobjects/Case", f"c{n}", {"Subject": f"{n}"}) for n in range(26)]
    reply = await rest.post("composite", {"compositeRequest": creates})
    assert reply.status == 400
    assert reply.body == {
        "compositeResponse": [
            {
                "body": [
                    {
                        "errorCode": "LIMIT_EXCEEDED",
                        "message": "The request can’t contain more than 25 operations.",
                    }
                ],
                "httpHeaders": {},
                "httpStatusCode": 400,
                "referenceId": None,
            }
        ]
    }
    assert live(rest.org, "Case") == []
    accepted = await rest.post("composite", {"compositeRequest": creates[:25]})
    assert len(results(accepted)) == 25
    assert len(live(rest.org, "Case")) == 25


async def test_sixth_query_or_collections_subrequest_is_rejected(rest: RestCaller) -> None:
    """ "Up to 5 of these subrequests can be sObject Collections or query
    operations"."""
    queries = [sub("GET", "query?q=SELECT+Id+FROM+Case", f"q{n}") for n in range(5)]
    assert len(results(await rest.post("composite", {"compositeRequest": queries}))) == 5
    sixth = sub("POST", "composite/sobjects", "more", {"records": []})
    reply = await rest.post("composite", {"compositeRequest": [*queries, sixth]})
    assert reply.status == 400
    assert reply.body[0]["errorCode"] == "LIMIT_EXCEEDED"


async def test_reference_into_query_records(rest: RestCaller) -> None:
    """requests_composite.htm: "." reads a field and "[n]" indexes an array, e.g.
    @{refQuery.records[0].Id}, in a later url or body."""
    await rest.post("sobjects/Case", {"Subject": "Existing", "OpenCX_Session_Id__c": "s-9"})
    reply = await rest.post(
        "composite",
        {
            "compositeRequest": [
                sub(
                    "GET",
                    "query?q=SELECT+Id,Subject+FROM+Case+WHERE+OpenCX_Session_Id__c='s-9'",
                    "refQuery",
                ),
                sub(
                    "PATCH",
                    "sobjects/Case/@{refQuery.records[0].Id}",
                    "refUpdate",
                    {"Subject": "@{refQuery.records[0].Subject} (seen)"},
                ),
                sub(
                    "POST",
                    "sobjects/CaseComment",
                    "refNote",
                    comment("@{refQuery.records[0].Id}", "hi"),
                ),
            ]
        },
    )
    by_ref = results(reply)
    assert by_ref["refUpdate"]["httpStatusCode"] == 204
    assert by_ref["refUpdate"]["body"] is None
    assert by_ref["refNote"]["httpStatusCode"] == 201
    (case,) = live(rest.org, "Case")
    assert case["Subject"] == "Existing (seen)"
    (note,) = live(rest.org, "CaseComment")
    assert note["ParentId"] == case["Id"]


async def test_references_are_case_sensitive(rest: RestCaller) -> None:
    """requests_composite.htm Usage: a create answers "id"; @{refAccount.Id}
    (wrong case) is an error. Message as the doc's examples give it."""
    reply = await rest.post(
        "composite",
        {
            "compositeRequest": [
                sub("POST", "sobjects/Case", "refCase", {"Subject": "A"}),
                sub("POST", "sobjects/CaseComment", "refNote", comment("@{refCase.Id}", "x")),
            ]
        },
    )
    note = results(reply)["refNote"]
    assert note["httpStatusCode"] == 400
    assert note["httpHeaders"] == {}
    assert note["body"] == halted_reference("refCase.Id", "refCase")
    assert live(rest.org, "CaseComment") == []


async def test_all_or_none_rolls_everything_back(rest: RestCaller) -> None:
    """requests_composite.htm allOrNone=true: "the entire composite request is rolled
    back"; the failing subrequest keeps its error, the others answer 400
    PROCESSING_HALTED (resources_composite_subrequest_result.htm); top level 200."""
    reply = await rest.post(
        "composite",
        {
            "allOrNone": True,
            "compositeRequest": [
                sub("POST", "sobjects/Case", "refCase", {"Subject": "Kept?"}),
                sub("POST", "sobjects/CaseComment", "refOk", comment("@{refCase.id}", "fine")),
                sub("POST", "sobjects/CaseComment", "refBad", comment("@{refCase.id}", "x" * 4001)),
                sub("POST", "sobjects/Case", "refAfter", {"Subject": "never"}),
            ],
        },
    )
    by_ref = results(reply)
    assert by_ref["refBad"]["httpStatusCode"] == 400
    assert by_ref["refBad"]["body"][0]["errorCode"] == "STRING_TOO_LONG"
    assert by_ref["refBad"]["body"][0]["fields"] == ["CommentBody"]
    for other in ("refCase", "refOk", "refAfter"):
        assert by_ref[other]["httpStatusCode"] == 400
        assert by_ref[other]["body"] == ROLLED_BACK
    assert live(rest.org, "Case") == []
    assert live(rest.org, "CaseComment") == []


async def test_all_or_none_false_keeps_independent_work(rest: RestCaller) -> None:
    """requests_composite.htm allOrNone=false: "the remaining subrequests that don't
    depend on the failed subrequest are executed. Dependent subrequests aren't
    executed." """
    reply = await rest.post(
        "composite",
        {
            "allOrNone": False,
            "compositeRequest": [
                sub("POST", "sobjects/Case", "refGood", {"Subject": "good"}),
                sub("POST", "sobjects/Case", "refBad", {"Subject": "s" * 256}),
                sub("POST", "sobjects/CaseComment", "refOrphan", comment("@{refBad.id}", "x")),
                sub("POST", "sobjects/CaseComment", "refChild", comment("@{refGood.id}", "y")),
            ],
        },
    )
    by_ref = results(reply)
    assert by_ref["refGood"]["httpStatusCode"] == 201
    assert by_ref["refBad"]["httpStatusCode"] == 400
    assert by_ref["refBad"]["body"][0]["errorCode"] == "STRING_TOO_LONG"
    assert by_ref["refOrphan"]["body"] == halted_reference("refBad.id", "refBad")
    assert by_ref["refChild"]["httpStatusCode"] == 201
    assert [case["Subject"] for case in live(rest.org, "Case")] == ["good"]
    (child,) = live(rest.org, "CaseComment")
    assert child["ParentId"] == by_ref["refGood"]["body"]["id"]


async def test_composite_all_or_none_overrides_a_collections_subrequest(rest: RestCaller) -> None:
    """resources_composite_allornone.htm: with the composite's allOrNone true, "the
    all-or-none behavior also applies to each of the sObject Collections
    subrequests, overriding the value of allOrNone in the subrequests"."""
    records = [comment("@{refCase.id}", "ok"), comment("@{refCase.id}", "x" * 4001)]
    reply = await rest.post(
        "composite",
        {
            "allOrNone": True,
            "compositeRequest": [
                sub("POST", "sobjects/Case", "refCase", {"Subject": "S"}),
                sub(
                    "POST",
                    "composite/sobjects",
                    "refComments",
                    {"allOrNone": False, "records": records},
                ),
            ],
        },
    )
    by_ref = results(reply)
    assert by_ref["refCase"]["body"] == ROLLED_BACK
    saved = by_ref["refComments"]["body"]
    assert saved[0]["errors"][0]["statusCode"] == "ALL_OR_NONE_OPERATION_ROLLED_BACK"
    assert saved[1]["errors"][0]["statusCode"] == "STRING_TOO_LONG"
    assert live(rest.org, "Case") == [] and live(rest.org, "CaseComment") == []


async def test_subrequest_answers_like_the_single_call(rest: RestCaller) -> None:
    """resources_composite_subrequest_result.htm: body, status and headers of each
    subrequest are those of the resource itself (here an unknown field and a
    missing record), never a Content-Length."""
    direct = await rest.post("sobjects/Case", {"Nope__c": 1})
    reply = await rest.post(
        "composite",
        {
            "compositeRequest": [
                sub("POST", "sobjects/Case", "refBad", {"Nope__c": 1}),
                sub("GET", "sobjects/Case/500000000000000AAA", "refMissing"),
            ]
        },
    )
    by_ref = results(reply)
    assert by_ref["refBad"]["httpStatusCode"] == direct.status == 400
    assert by_ref["refBad"]["body"] == direct.body
    assert by_ref["refMissing"]["httpStatusCode"] == 404
    assert by_ref["refMissing"]["body"][0]["errorCode"] == "NOT_FOUND"
    assert all("Content-Length" not in item["httpHeaders"] for item in by_ref.values())


async def test_inherited_header_fails_the_whole_request(rest: RestCaller) -> None:
    """requests_composite.htm httpHeaders: Accept, Authorization and Content-Type
    are inherited; "If you do [specify them], the top-level request fails and returns
    an HTTP 400 response"."""
    for header in ("Content-Type", "accept", "Authorization"):
        reply = await rest.post(
            "composite",
            {
                "compositeRequest": [
                    sub("POST", "sobjects/Case", "refCase", {"Subject": "A"}),
                    sub(
                        "GET",
                        "sobjects/Case/describe",
                        "refInfo",
                        httpHeaders={header: "application/json"},
                    ),
                ]
            },
        )
        assert reply.status == 400, header
        assert "compositeResponse" not in reply.body
    assert live(rest.org, "Case") == []


async def test_other_subrequest_headers_are_passed_on(rest: RestCaller) -> None:
    """requests_composite.htm Example 1: a subrequest may carry If-Modified-Since;
    describe then answers 304 inside the composite."""
    reply = await rest.post(
        "composite",
        {
            "compositeRequest": [
                sub(
                    "GET",
                    "sobjects/Case/describe",
                    "AccountInfo",
                    httpHeaders={"If-Modified-Since": "Fri, 01 Jan 2100 00:00:00 GMT"},
                )
            ]
        },
    )
    assert results(reply)["AccountInfo"]["httpStatusCode"] == 304


async def test_method_is_case_sensitive(rest: RestCaller) -> None:
    """requests_composite.htm method: POST, PUT, PATCH, GET, DELETE
    (case-sensitive)."""
    reply = await rest.post(
        "composite",
        {"compositeRequest": [sub("post", "sobjects/Case", "refCase", {"Subject": "A"})]},
    )
    assert reply.status == 400
    assert live(rest.org, "Case") == []


async def test_subrequest_url_must_be_a_supported_resource(rest: RestCaller) -> None:
    """requests_composite.htm url: "must start with /services/data/vXX.X/";
    resources_composite_composite_post.htm lists sObject resources, Query, QueryAll
    and sObject Collections as the supported ones."""
    for url in ("/sobjects/Case", f"{V}/composite/tree/Case", f"{V}/limits"):
        item = {"method": "POST", "url": url, "referenceId": "r", "body": {"records": []}}
        reply = await rest.post("composite", {"compositeRequest": [item]})
        assert reply.status == 400, url


async def test_reference_ids_must_be_unique(rest: RestCaller) -> None:
    """requests_composite.htm: a referenceId maps to one subrequest's response."""
    twice = [sub("POST", "sobjects/Case", "same", {"Subject": "A"})] * 2
    reply = await rest.post("composite", {"compositeRequest": twice})
    assert reply.status == 400
    assert live(rest.org, "Case") == []


async def test_illegal_reference_id_fails_the_request_from_v52(rest: RestCaller) -> None:
    """requests_composite.htm "Behavior and Responses If There Are Illegal
    Characters in Reference IDs": from v52.0 the whole request fails with the
    documented JSON_PARSER_ERROR; in v51.0 the subrequest runs and its dependents
    fail."""
    body = {
        "compositeRequest": [
            sub("POST", "sobjects/Case", "refNewCase[1]", {"Subject": "A"}),
            sub("POST", "sobjects/CaseComment", "refNote", comment("@{refNewCase[1].id}", "x")),
        ]
    }
    strict = await rest.post("composite", body)
    assert strict.status == 400
    assert strict.body == [
        {
            "message": "Provided referenceId ('refNewCase[1]') must start with a letter or a "
            "number, and it can contain only letters, numbers and underscores ('_').",
            "errorCode": "JSON_PARSER_ERROR",
        }
    ]
    assert live(rest.org, "Case") == []
    lenient = await rest.post(f"{V.replace('62.0', '51.0')}/composite", body)
    by_ref = results(lenient)
    assert by_ref["refNewCase[1]"]["httpStatusCode"] == 201
    assert by_ref["refNote"]["body"] == halted_reference("refNewCase[1].id", "refNewCase")


async def test_reference_to_a_null_field_depends_on_the_version(rest: RestCaller) -> None:
    """requests_composite.htm "Behavior for References to Null Fields": a null field
    fails the dependent subrequest in v51.0 and earlier and resolves from v52.0."""
    case_id = (await rest.post("sobjects/Case", {"Subject": "S"})).body["id"]

    def body(version: str) -> dict[str, Any]:
        return {
            "compositeRequest": [
                sub("GET", f"sobjects/Case/{case_id}?fields=Subject,Description", "refCase"),
                sub(
                    "POST",
                    "sobjects/Case",
                    "refCopy",
                    {"Subject": "@{refCase.Subject}", "Description": "@{refCase.Description}"},
                    version=version,
                ),
            ]
        }

    old = results(await rest.post("/services/data/v51.0/composite", body("51.0")))
    assert old["refCopy"]["body"] == halted_reference("refCase.Description", "refCase")
    new = results(await rest.post("composite", body("62.0")))
    assert new["refCopy"]["httpStatusCode"] == 201
    copy = rest.org.live("Case", new["refCopy"]["body"]["id"])
    assert copy is not None and copy["Subject"] == "S" and copy["Description"] is None


async def test_get_lists_the_composite_resources(rest: RestCaller) -> None:
    """resources_composite_composite_get.htm: GET /composite lists the other
    composite resources (Composite Batch isn't emulated, so it isn't listed)."""
    reply = await rest.get("composite")
    assert reply.status == 200
    assert reply.body == {
        "tree": f"{V}/composite/tree",
        "sobjects": f"{V}/composite/sobjects",
        "graph": f"{V}/composite/graph",
    }
