"""The result shape: fields, parent paths, child subqueries, COUNT, urls."""

from __future__ import annotations

from typing import Any

from soql_fake_org import TOOLING_OBJECTS, FakeOrg
from soql_world import World

BASE = "/services/data/v62.0/sobjects"


def one(world: World, soql: str) -> dict[str, Any]:
    result = world.org.query(soql)
    assert result.total_size == len(result.records) == 1
    return result.records[0]


def test_plain_fields_come_after_attributes_in_select_order_under_canonical_names(
    world: World,
) -> None:
    record = one(world, f"select subject, ID, status from case where id = '{world.printer}'")
    assert list(record) == ["attributes", "Subject", "Id", "Status"]
    assert record == {
        "attributes": {"type": "Case", "url": f"{BASE}/Case/{world.printer}"},
        "Subject": "Printer on fire",
        "Id": world.printer,
        "Status": "New",
    }


def test_values_are_returned_as_stored(world: World) -> None:
    record = one(
        world,
        "SELECT CreatedDate, Due_Date__c, Score__c, Attempts__c, IsClosed, ClosedDate "
        f"FROM Case WHERE Id = '{world.printer}'",
    )
    assert record["CreatedDate"] == "2024-05-15T08:00:00.000+0000"
    assert record["Due_Date__c"] == "2024-05-20"
    assert record["Score__c"] == 4.5
    assert record["Attempts__c"] == 3
    assert record["IsClosed"] is False
    assert record["ClosedDate"] is None


def test_parent_fields_nest_under_the_relationship_with_their_own_attributes(world: World) -> None:
    record = one(
        world,
        "SELECT Id, Contact.Email, CreatedBy.Name, CreatedBy.UserType, Contact.LastName "
        f"FROM Case WHERE Id = '{world.printer}'",
    )
    assert list(record) == ["attributes", "Id", "Contact", "CreatedBy"]
    assert record["Contact"] == {
        "attributes": {"type": "Contact", "url": f"{BASE}/Contact/{world.alice}"},
        "Email": "alice@example.com",
        "LastName": "Smith",
    }
    assert record["CreatedBy"] == {
        "attributes": {"type": "User", "url": f"{BASE}/User/{world.rep}"},
        "Name": "Rita Rep",
        "UserType": "Standard",
    }


def test_paths_several_levels_deep(world: World) -> None:
    record = one(
        world,
        "SELECT Parent.Contact.Account.Name, Parent.CreatedBy.Manager.Name "
        f"FROM Case WHERE Id = '{world.closed}'",
    )
    parent = record["Parent"]
    assert isinstance(parent, dict)
    assert parent["attributes"] == {"type": "Case", "url": f"{BASE}/Case/{world.printer}"}
    assert parent["Contact"]["Account"] == {
        "attributes": {"type": "Account", "url": f"{BASE}/Account/{world.acme}"},
        "Name": "Acme",
    }
    assert parent["CreatedBy"]["Manager"]["Name"] == "Mona Manager"


def test_a_missing_parent_is_null(world: World) -> None:
    record = one(
        world,
        f"SELECT Contact.Email, Contact.Account.Name, Parent.CaseNumber FROM Case "
        f"WHERE Id = '{world.login}'",
    )
    # Bob exists but has no Account; the Case has no parent Case.
    assert record["Contact"] == {
        "attributes": {"type": "Contact", "url": f"{BASE}/Contact/{world.bob}"},
        "Email": None,
        "Account": None,
    }
    assert record["Parent"] is None
    record = one(world, f"SELECT Contact.Email FROM Case WHERE Id = '{world.closed}'")
    assert record["Contact"] is None


def test_polymorphic_owner_resolves_to_the_record_it_points_at(world: World) -> None:
    records = world.org.query("SELECT Owner.Name FROM Case ORDER BY CaseNumber").records
    owners = [record["Owner"] for record in records]
    assert owners[0] == {
        "attributes": {"type": "User", "url": f"{BASE}/User/{world.rep}"},
        "Name": "Rita Rep",
    }
    assert owners[1] == {
        "attributes": {"type": "Group", "url": f"{BASE}/Group/{world.queue}"},
        "Name": "Support Queue",
    }


def test_child_subquery_with_its_own_where_order_and_limit(world: World) -> None:
    record = one(
        world,
        "SELECT Id, (SELECT Id, CommentBody, CreatedBy.UserType FROM CaseComments "
        "WHERE IsPublished = true ORDER BY CreatedDate) "
        f"FROM Case WHERE Id = '{world.printer}'",
    )
    comments = record["CaseComments"]
    assert isinstance(comments, dict)
    assert comments["totalSize"] == 2
    assert comments["done"] is True
    assert comments["records"] == [
        {
            "attributes": {"type": "CaseComment", "url": f"{BASE}/CaseComment/{world.thanks}"},
            "Id": world.thanks,
            "CommentBody": "Customer says thanks",
            "CreatedBy": {
                "attributes": {"type": "User", "url": f"{BASE}/User/{world.portal}"},
                "UserType": "CspLitePortal",
            },
        },
        {
            "attributes": {"type": "CaseComment", "url": f"{BASE}/CaseComment/{world.first_reply}"},
            "Id": world.first_reply,
            "CommentBody": "First reply",
            "CreatedBy": {
                "attributes": {"type": "User", "url": f"{BASE}/User/{world.rep}"},
                "UserType": "Standard",
            },
        },
    ]
    limited = one(
        world,
        "SELECT (SELECT Id FROM CaseComments ORDER BY CreatedDate DESC LIMIT 1) "
        f"FROM Case WHERE Id = '{world.printer}'",
    )
    assert [c["Id"] for c in limited["CaseComments"]["records"]] == [world.internal_note]


def test_child_subquery_is_null_when_no_child_matches(world: World) -> None:
    records = world.org.query(
        "SELECT Id, (SELECT Id FROM casecomments WHERE IsPublished = false) FROM Case "
        "ORDER BY CaseNumber"
    ).records
    assert [r["CaseComments"] for r in records[1:]] == [None, None]
    assert records[0]["CaseComments"]["totalSize"] == 1


def test_child_subquery_named_through_the_parent_object_or_alias(world: World) -> None:
    for soql in (
        "SELECT Id, (SELECT Id FROM Case.CaseComments) FROM Case WHERE Id = '{id}'",
        "SELECT c.Id, (SELECT k.Id FROM c.CaseComments k) FROM Case c WHERE c.Id = '{id}'",
    ):
        record = one(world, soql.format(id=world.login))
        assert record["Id"] == world.login
        assert [k["Id"] for k in record["CaseComments"]["records"]] == [world.reset_link]


def test_subqueries_nest(world: World) -> None:
    record = one(
        world,
        "SELECT Name, (SELECT LastName, (SELECT Subject FROM Cases) FROM Contacts) "
        f"FROM Account WHERE Id = '{world.acme}'",
    )
    contact = record["Contacts"]["records"][0]
    assert contact["LastName"] == "Smith"
    assert [c["Subject"] for c in contact["Cases"]["records"]] == ["Printer on fire"]


def test_child_subquery_skips_deleted_children_unless_query_all(world: World) -> None:
    soql = f"SELECT (SELECT Id FROM CaseComments) FROM Case WHERE Id = '{world.printer}'"
    assert one(world, soql)["CaseComments"]["totalSize"] == 3
    every = world.org.query(soql, include_deleted=True).records[0]
    assert every["CaseComments"]["totalSize"] == 4


def test_count_returns_the_count_as_total_size_and_no_records(world: World) -> None:
    result = world.org.query("SELECT COUNT() FROM Case WHERE IsClosed = false")
    assert (result.total_size, result.records) == (2, [])
    assert result.as_response() == {"totalSize": 2, "done": True, "records": []}
    assert world.org.query("select count() from Case").total_size == 3
    assert world.org.query("SELECT COUNT() FROM Case", include_deleted=True).total_size == 4


def test_count_of_a_field_is_an_aggregate_result(world: World) -> None:
    result = world.org.query(
        "SELECT COUNT(Id), COUNT(ContactId) withContact, COUNT(Score__c) FROM Case"
    )
    assert result.total_size == 1
    assert result.records == [
        {"attributes": {"type": "AggregateResult"}, "expr0": 3, "withContact": 2, "expr1": 2}
    ]


def test_query_all_includes_deleted_records(world: World) -> None:
    soql = "SELECT Id, IsDeleted FROM Case WHERE Status = 'New' ORDER BY CaseNumber"
    assert [r["Id"] for r in world.org.query(soql).records] == [world.printer]
    every = world.org.query(soql, include_deleted=True).records
    assert [(r["Id"], r["IsDeleted"]) for r in every] == [
        (world.printer, False),
        (world.deleted_case, True),
    ]


def test_a_deleted_record_is_not_found_by_id_unless_query_all(world: World) -> None:
    soql = f"SELECT Id FROM Case WHERE Id = '{world.deleted_case}'"
    assert world.org.query(soql).total_size == 0
    assert world.org.query(soql, include_deleted=True).total_size == 1


def test_api_version_goes_into_urls(world: World) -> None:
    result = world.org.query(
        f"SELECT Contact.LastName FROM Case WHERE Id = '{world.printer}'", api_version="v58.0"
    )
    assert result.records[0]["attributes"]["url"] == (
        f"/services/data/v58.0/sobjects/Case/{world.printer}"
    )


def test_tooling_objects_and_urls() -> None:
    org = FakeOrg(TOOLING_OBJECTS, {})
    trigger = org.add(
        "ApexTrigger", Name="OpenCXCaseTrigger", TableEnumOrId="Case", Status="Active", IsValid=True
    )
    org.add("ApexTrigger", Name="Other", TableEnumOrId="Account", Status="Inactive")
    result = org.query(
        "SELECT Id, Name, Status, IsValid FROM ApexTrigger WHERE Name = 'OpenCXCaseTrigger'",
        tooling=True,
    )
    assert result.records == [
        {
            "attributes": {
                "type": "ApexTrigger",
                "url": f"/services/data/v62.0/tooling/sobjects/ApexTrigger/{trigger}",
            },
            "Id": trigger,
            "Name": "OpenCXCaseTrigger",
            "Status": "Active",
            "IsValid": True,
        }
    ]
