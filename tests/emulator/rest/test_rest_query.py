"""SOQL over REST: query, queryAll, Query More paging, and the Tooling query."""

from __future__ import annotations

from urllib.parse import quote

from emulator_support import RestCaller


def q(soql: str, resource: str = "query") -> str:
    return f"{resource}?q={quote(soql)}"


async def test_query_returns_records_with_attributes(rest: RestCaller) -> None:
    """resources_query.htm: {"totalSize","done","records":[{"attributes":{"type",
    "url"}, ...}]}; done=true has no nextRecordsUrl."""
    case_id = (await rest.post("sobjects/Case", {"Subject": "Find me"})).body["id"]
    await rest.post("sobjects/Case", {"Subject": "Not me"})
    reply = await rest.get(q("SELECT Id, Subject, CaseNumber FROM Case WHERE Subject = 'Find me'"))
    assert reply.status == 200
    body = reply.body
    assert body["totalSize"] == 1 and body["done"] is True
    assert "nextRecordsUrl" not in body
    record = body["records"][0]
    assert record["attributes"] == {
        "type": "Case",
        "url": f"/services/data/v62.0/sobjects/Case/{case_id}",
    }
    assert record["Id"] == case_id and record["Subject"] == "Find me"
    assert record["CaseNumber"] == "00001000"


async def test_query_with_parent_fields_and_subquery(rest: RestCaller) -> None:
    """sforce_api_calls_soql_relationships_query_using.htm: parent fields nest as
    objects; a subquery on CaseComments returns {"totalSize","done","records"}."""
    contact = (
        await rest.post("sobjects/Contact", {"LastName": "Lee", "Email": "lee@example.com"})
    ).body["id"]
    case_id = (
        await rest.post("sobjects/Case", {"Subject": "With kids", "ContactId": contact})
    ).body["id"]
    for text in ("first", "second"):
        await rest.post("sobjects/CaseComment", {"ParentId": case_id, "CommentBody": text})
    soql = (
        "SELECT Id, Contact.Email, (SELECT CommentBody FROM CaseComments ORDER BY CreatedDate) "
        f"FROM Case WHERE Id = '{case_id}'"
    )
    reply = await rest.get(q(soql))
    assert reply.status == 200, reply.body
    record = reply.body["records"][0]
    assert record["Contact"]["Email"] == "lee@example.com"
    comments = record["CaseComments"]
    assert comments["totalSize"] == 2 and comments["done"] is True
    assert sorted(c["CommentBody"] for c in comments["records"]) == ["first", "second"]


async def test_paging_with_batch_size_until_done(rest: RestCaller) -> None:
    """resources_query.htm / headers_queryoptions.htm: Sforce-Query-Options
    batchSize=N (200–2000) and nextRecordsUrl "/services/data/vXX.X/query/01g…-N"
    served until done=true."""
    for n in range(450):
        rest.org.create("Case", {"Subject": f"bulk {n:03d}"})
    headers = {"Sforce-Query-Options": "batchSize=200"}
    reply = await rest.get(q("SELECT Id, Subject FROM Case"), headers=headers)
    pages = [reply.body]
    while not pages[-1]["done"]:
        url = pages[-1]["nextRecordsUrl"]
        assert url.startswith("/services/data/v62.0/query/01g")
        pages.append((await rest.get(url)).body)
    assert [len(p["records"]) for p in pages] == [200, 200, 50]
    assert all(p["totalSize"] == 450 for p in pages)
    subjects = [r["Subject"] for p in pages for r in p["records"]]
    assert sorted(subjects) == [f"bulk {n:03d}" for n in range(450)]
    assert pages[0]["nextRecordsUrl"].endswith("-200")
    assert "nextRecordsUrl" not in pages[-1]


async def test_default_batch_is_2000(rest: RestCaller) -> None:
    """resources_query.htm: up to 2,000 records a batch by default."""
    for n in range(2001):
        rest.org.create("Account", {"Name": f"A{n}"})
    first = (await rest.get(q("SELECT Id FROM Account"))).body
    assert len(first["records"]) == 2000 and first["done"] is False
    rest_of = (await rest.get(first["nextRecordsUrl"])).body
    assert len(rest_of["records"]) == 1 and rest_of["done"] is True


async def test_child_rows_count_toward_the_batch_size(rest: RestCaller) -> None:
    """headers_queryoptions.htm: "Child objects count toward the number of records
    for the batch size. For example, in relationship queries, multiple child
    objects are returned per parent row returned." 250 Cases with 9 comments each
    weigh 10 rows a Case: a 2,000-row batch holds 200 of them, not 250."""
    for n in range(250):
        case_id = rest.org.create("Case", {"Subject": f"parent {n:03d}"})
        for k in range(9):
            rest.org.create("CaseComment", {"ParentId": case_id, "CommentBody": f"c{k}"})
    soql = "SELECT Id, Subject, (SELECT Id FROM CaseComments) FROM Case"
    first = (await rest.get(q(soql))).body
    assert first["totalSize"] == 250
    assert len(first["records"]) == 200 and first["done"] is False
    assert all(r["CaseComments"]["totalSize"] == 9 for r in first["records"])
    second = (await rest.get(first["nextRecordsUrl"])).body
    assert len(second["records"]) == 50 and second["done"] is True
    subjects = [r["Subject"] for r in first["records"] + second["records"]]
    assert sorted(subjects) == [f"parent {n:03d}" for n in range(250)]
    # Without the children each row weighs one: every Case in one batch.
    flat = (await rest.get(q("SELECT Id FROM Case"))).body
    assert len(flat["records"]) == 250 and flat["done"] is True


async def test_a_parent_heavier_than_the_batch_still_comes_alone(rest: RestCaller) -> None:
    """A batch always carries at least one parent row, however many children it
    has (otherwise paging could never advance)."""
    heavy = rest.org.create("Case", {"Subject": "heavy"})
    for k in range(250):
        rest.org.create("CaseComment", {"ParentId": heavy, "CommentBody": f"c{k}"})
    rest.org.create("Case", {"Subject": "light"})
    headers = {"Sforce-Query-Options": "batchSize=200"}
    soql = "SELECT Subject, (SELECT Id FROM CaseComments) FROM Case ORDER BY Subject"
    first = (await rest.get(q(soql), headers=headers)).body
    assert [r["Subject"] for r in first["records"]] == ["heavy"]
    assert first["done"] is False
    second = (await rest.get(first["nextRecordsUrl"], headers=headers)).body
    assert [r["Subject"] for r in second["records"]] == ["light"]
    assert second["done"] is True


async def test_unknown_query_locator(rest: RestCaller) -> None:
    """A locator that doesn't exist is refused (INVALID_QUERY_LOCATOR)."""
    reply = await rest.get("query/01g000000000001AAA-2000")
    assert reply.status == 400
    assert reply.body[0]["errorCode"] == "INVALID_QUERY_LOCATOR"


async def test_query_all_sees_deleted_records(rest: RestCaller) -> None:
    """dome_query.htm: /queryAll includes deleted records (IsDeleted = true);
    /query does not."""
    case_id = (await rest.post("sobjects/Case", {"Subject": "Deleted one"})).body["id"]
    await rest.delete(f"sobjects/Case/{case_id}")
    soql = "SELECT Id, IsDeleted FROM Case"
    assert (await rest.get(q(soql))).body["totalSize"] == 0
    everything = (await rest.get(q(soql, "queryAll"))).body
    assert everything["totalSize"] == 1
    assert everything["records"][0]["IsDeleted"] is True


async def test_query_errors(rest: RestCaller) -> None:
    """SALESFORCE.md §10: unknown field → INVALID_FIELD; unknown object →
    INVALID_TYPE; bad syntax → MALFORMED_QUERY (HTTP 400)."""
    field = await rest.get(q("SELECT Bogus FROM Case"))
    assert field.status == 400 and field.body[0]["errorCode"] == "INVALID_FIELD"
    sobject = await rest.get(q("SELECT Id FROM no_such_object"))
    assert sobject.status == 400 and sobject.body[0]["errorCode"] == "INVALID_TYPE"
    syntax = await rest.get(q("SELECT FROM WHERE"))
    assert syntax.status == 400 and syntax.body[0]["errorCode"] == "MALFORMED_QUERY"


async def test_custom_field_absent_from_soql_when_not_seeded(rest: RestCaller) -> None:
    """The org's schema decides what SOQL sees."""
    ok = await rest.get(q("SELECT Id FROM Case WHERE OpenCX_Session_Id__c = 'x'"))
    assert ok.status == 200
    bad = await rest.get(q("SELECT Id FROM Case WHERE Not_Seeded__c = 'x'"))
    assert bad.status == 400 and bad.body[0]["errorCode"] == "INVALID_FIELD"


async def test_case_status_values(rest: RestCaller) -> None:
    """sforce_api_objects_casestatus.htm: SELECT ApiName, MasterLabel, IsClosed,
    IsDefault, SortOrder FROM CaseStatus."""
    soql = "SELECT ApiName, IsClosed, IsDefault, SortOrder FROM CaseStatus ORDER BY SortOrder"
    records = (await rest.get(q(soql))).body["records"]
    assert [(r["ApiName"], r["IsClosed"], r["IsDefault"]) for r in records] == [
        ("New", False, True),
        ("Working", False, False),
        ("Escalated", False, False),
        ("Closed", True, False),
    ]


async def test_tooling_query_sees_deployed_package(rest: RestCaller) -> None:
    """SALESFORCE.md §8 doctor queries over tooling/query: ApexTrigger by Name with
    Status and IsValid; NamedCredential by DeveloperName."""
    rest.org.metadata.set_apex_trigger(
        "OpenCXCaseCommentTrigger",
        "CaseComment",
        "trigger OpenCXCaseCommentTrigger on CaseComment (after insert) { }",
    )
    rest.org.metadata.set_named_credential("OpenCX_Integration", "https://bot.example/hook")
    soql = (
        "SELECT Id, Name, Status, IsValid, TableEnumOrId, UsageAfterInsert FROM ApexTrigger "
        "WHERE Name = 'OpenCXCaseCommentTrigger'"
    )
    reply = await rest.get(q(soql, "tooling/query"))
    assert reply.status == 200, reply.body
    trigger = reply.body["records"][0]
    assert (trigger["Status"], trigger["IsValid"], trigger["TableEnumOrId"]) == (
        "Active",
        True,
        "CaseComment",
    )
    assert trigger["UsageAfterInsert"] is True
    assert trigger["attributes"]["url"].startswith(
        "/services/data/v62.0/tooling/sobjects/ApexTrigger/"
    )
    credential = await rest.get(
        q(
            "SELECT Endpoint FROM NamedCredential WHERE DeveloperName = 'OpenCX_Integration'",
            "tooling/query",
        )
    )
    assert credential.body["records"][0]["Endpoint"] == "https://bot.example/hook"

    # A broken deployment shows up the same way.
    rest.org.metadata.set_apex_trigger(
        "OpenCXCaseCommentTrigger",
        "CaseComment",
        "trigger broken",
        status="Inactive",
        is_valid=False,
    )
    broken = (await rest.get(q(soql, "tooling/query"))).body["records"][0]
    assert (broken["Status"], broken["IsValid"]) == ("Inactive", False)

    # The Tooling API serves only its own objects.
    cases = await rest.get(q("SELECT Id FROM Case", "tooling/query"))
    assert cases.status == 400 and cases.body[0]["errorCode"] == "INVALID_TYPE"


async def test_users_with_their_profile(rest: RestCaller) -> None:
    """sforce_api_objects_user.htm: User.ProfileId → Profile (relationship Profile);
    the seed's users, with their user type."""
    soql = (
        "SELECT Username, UserType, Profile.Name FROM User WHERE IsActive = true ORDER BY Username"
    )
    records = (await rest.get(q(soql))).body["records"]
    by_name = {r["Username"]: r for r in records}
    assert by_name["portal@customer.example"]["UserType"] == "PowerCustomerSuccess"
    assert by_name["portal@customer.example"]["Profile"]["Name"] == "Customer Community User"
    assert by_name["rep@acme.example"]["Profile"]["Name"] == "Standard User"
