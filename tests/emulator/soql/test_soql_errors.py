"""Refused queries: the exact errorCode and message Salesforce answers with."""

from __future__ import annotations

import pytest
from soql_fake_org import FakeOrg, Field
from soql_world import World

from opencx_salesforce.emulator.soql import SoqlError, parse

HINT = " Please reference your WSDL or the describe call for the appropriate names."
NO_SUCH_COLUMN = (
    "No such column '{}' on entity '{}'. If you are attempting to use a custom field, be sure "
    "to append the '__c' after the custom field name." + HINT
)


Q = "enclosed in quotes"


def refused(org: FakeOrg, soql: str) -> SoqlError:
    with pytest.raises(SoqlError) as caught:
        org.query(soql)
    return caught.value


def test_error_body_is_the_documented_json_array() -> None:
    error = SoqlError("MALFORMED_QUERY", "unexpected token: 'x'")
    assert error.status == 400
    assert error.body() == [{"message": "unexpected token: 'x'", "errorCode": "MALFORMED_QUERY"}]


def test_unknown_object_is_invalid_type_with_the_position() -> None:
    # The body recorded from a real org, SALESFORCE.md §10.
    error = refused(FakeOrg(), "SELECT Id FROM no_such_object")
    assert error.error_code == "INVALID_TYPE"
    assert error.message == (
        "\nSELECT Id FROM no_such_object\n               ^\nERROR at Row:1:Column:16\n"
        "sObject type 'no_such_object' is not supported. If you are attempting to use a custom "
        "object, be sure to append the '__c' after the entity name." + HINT
    )


def test_unknown_column_is_invalid_field_with_the_position() -> None:
    error = refused(FakeOrg(), "SELECT Bogus FROM Account")
    assert error.error_code == "INVALID_FIELD"
    assert error.message == (
        "\nSELECT Bogus FROM Account\n       ^\nERROR at Row:1:Column:8\n"
        + NO_SUCH_COLUMN.format("Bogus", "Account")
    )


def test_unknown_column_in_where_order_by_and_subqueries(world: World) -> None:
    org = world.org
    error = refused(org, "SELECT Id FROM Case WHERE Bogus__c = 1")
    assert error.message.endswith("Column:27\n" + NO_SUCH_COLUMN.format("Bogus__c", "Case"))
    error = refused(org, "SELECT Id FROM Case ORDER BY Nope")
    assert error.message.endswith("Column:30\n" + NO_SUCH_COLUMN.format("Nope", "Case"))
    error = refused(org, "SELECT Id, (SELECT Body FROM CaseComments) FROM Case")
    assert error.message.endswith("Column:20\n" + NO_SUCH_COLUMN.format("Body", "CaseComment"))
    error = refused(org, "SELECT Contact.Nickname FROM Case")
    assert error.message.endswith("Column:8\n" + NO_SUCH_COLUMN.format("Nickname", "Contact"))


def test_the_quoted_window_matches_a_recorded_body() -> None:
    # Recorded from a real org: "\nSELECT Id, Dispenser__c, Answer__c,
    # Audit_Question__c\n           ^\nERROR at Row:1:Column:12\nNo such column ...".
    org = FakeOrg({"Audit_Answer__c": [Field("Answer__c", "string", 255)]}, {})
    error = refused(
        org, "SELECT Id, Dispenser__c, Answer__c, Audit_Question__c FROM Audit_Answer__c"
    )
    assert error.message == (
        "\nSELECT Id, Dispenser__c, Answer__c, Audit_Question__c\n           ^\n"
        "ERROR at Row:1:Column:12\n" + NO_SUCH_COLUMN.format("Dispenser__c", "Audit_Answer__c")
    )


def test_the_window_reaches_30_characters_each_side_without_cutting_words() -> None:
    # Shapes of recorded bodies: "Account.Phone, Account.Rating,
    # Account.RecordTypeId, Account.ShippingCity" and "Opportunity__r.Name,
    # Opportunity__r.Id, Stage" followed by the query's own spaces.
    account = [Field(name, "string", 80) for name in ("Name", "Phone", "Rating", "ShippingCity")]
    contact = [Field("AccountId", "reference", 18, ("Account",), "Account")]
    org = FakeOrg({"Account": account, "Contact": contact}, {})
    error = refused(
        org,
        "SELECT Id, AccountId, Account.Phone, Account.Rating, Account.RecordTypeId, "
        "Account.ShippingCity, Account.Name FROM Contact",
    )
    assert error.message == (
        "\nAccount.Phone, Account.Rating, Account.RecordTypeId, Account.ShippingCity\n"
        + " " * 31
        + "^\nERROR at Row:1:Column:54\n"
        + NO_SUCH_COLUMN.format("RecordTypeId", "Account")
    )
    error = refused(
        org,
        "SELECT Id, AccountId, Account.Phone, Account.Rating, Stage" + " " * 30 + "FROM Contact",
    )
    assert error.message.startswith(
        "\nAccount.Phone, Account.Rating, Stage" + " " * 26 + "\n" + " " * 31 + "^\n"
    )


def test_errors_on_a_later_line_give_its_row_and_column(world: World) -> None:
    error = refused(world.org, "SELECT Id\nFROM Case\nWHERE Bogus__c = 1\nORDER BY Id")
    assert error.message == (
        "\nWHERE Bogus__c = 1\n      ^\nERROR at Row:3:Column:7\n"
        + NO_SUCH_COLUMN.format("Bogus__c", "Case")
    )


@pytest.mark.parametrize(
    ("soql", "column", "token"),
    [
        ("SELECT Id FROM Case WHERE", 26, "<EOF>"),
        ("SELECT Id, FROM Case", 12, "FROM"),
        ("SELECT Id FROM Case WHERE Status = 'New' OR IsClosed = true AND Id = null", 61, "AND"),
        ("SELECT Id FROM Case WHERE Status = 'New' AND IsClosed = true OR Id = null", 62, "OR"),
        ("SELECT Id FROM Case WHERE NOT Status = 'New' AND IsClosed = true", 46, "AND"),
        ("SELECT Id FROM Case WHERE (Status = 'A' AND Status = 'B' OR Status = 'C')", 58, "OR"),
        ("SELECT Id FROM Case ORDER BY Id WHERE Status = 'New'", 33, "WHERE"),
        ("SELECT Id FROM Case LIMIT 5 ORDER BY Id", 29, "ORDER"),
        ("SELECT Id FROM Case WHERE Status = ", 36, "<EOF>"),
        ("SELECT Id FROM Case WHERE Status 'New'", 34, "'New'"),
        ("SELECT Id FROM Case WHERE Status IN ()", 38, ")"),
        ("SELECT Id FROM Case LIMIT 1.5", 27, "1.5"),
        ("SELECT Id FROM Case WHERE Status = New", 36, "New"),
        ("SELECT Id FROM Case ORDER BY Id NULLS", 38, "<EOF>"),
        ("Id FROM Case", 1, "Id"),
        ("SELECT Id FROM Case extra words", 27, "words"),
    ],
)
def test_syntax_errors_are_malformed_query_at_the_unexpected_token(
    soql: str, column: int, token: str
) -> None:
    with pytest.raises(SoqlError) as caught:
        parse(soql)
    error = caught.value
    assert error.error_code == "MALFORMED_QUERY"
    assert error.message.endswith(f"^\nERROR at Row:1:Column:{column}\nunexpected token: '{token}'")
    caret_line = error.message.split("\n")[2]
    quoted = error.message.split("\n")[1]
    assert quoted[len(caret_line) - 1 :].startswith(token if token != "<EOF>" else "")


def test_mixing_and_or_is_refused_with_the_documented_message() -> None:
    # [Summer '24 release notes: "... AND Company LIKE '%GM%' OR Domain__c='gm.com'
    #  ... New: unexpected token: 'OR'"]
    with pytest.raises(SoqlError) as caught:
        parse("SELECT Id FROM Lead WHERE Company LIKE '%GM%' AND x = 1 OR Domain__c='gm.com'")
    assert caught.value.message == (
        "\nCompany LIKE '%GM%' AND x = 1 OR Domain__c='gm.com'\n"
        "                              ^\nERROR at Row:1:Column:57\nunexpected token: 'OR'"
    )


def test_a_character_no_token_starts_with() -> None:
    # [Summer '24 release notes: "SELECT Id from $casecomment WHERE isdeleted =
    #  false ... New: line 1:15 unexpected token: '$'"]
    with pytest.raises(SoqlError) as caught:
        parse("SELECT Id from $casecomment WHERE isdeleted = false")
    assert caught.value.error_code == "MALFORMED_QUERY"
    assert caught.value.message == "line 1:15 unexpected token: '$'"
    with pytest.raises(SoqlError, match=r"^line 2:16 unexpected token: '\"'$"):
        parse('SELECT Id FROM Case\nWHERE Subject = "x"')
    with pytest.raises(SoqlError, match=r"^line 1:36 unexpected token: '''$"):
        parse("SELECT Id FROM Case WHERE Subject = 'unclosed")
    with pytest.raises(SoqlError, match=r"^line 1:38 unexpected token: '\\'$"):
        parse("SELECT Id FROM Case WHERE Subject = 'a\\qb'")


def test_invalid_datetime_and_date() -> None:
    # [Summer '24 release notes: "Invalid datetime: 2020-12-12t12:12:00-25:00"]
    for literal in (
        "2020-12-12t12:12:00-25:00",
        "2020-52-12t12:12:00-05:00",
        "2020-01-01T10:00:00",
    ):
        with pytest.raises(SoqlError) as caught:
            parse(f"SELECT Id FROM Account WHERE SystemModstamp > {literal}")
        assert caught.value.error_code == "MALFORMED_QUERY"
        assert caught.value.message.endswith(f"Column:47\nInvalid datetime: {literal}")
    with pytest.raises(SoqlError, match=r"Invalid date: 2020-02-30$"):
        parse("SELECT Id FROM Account WHERE CloseDate = 2020-02-30")


def test_bind_variables_are_apex_only() -> None:
    with pytest.raises(SoqlError, match=r"Column:32\nBind variables only allowed in Apex code$"):
        parse("SELECT Id FROM Case WHERE Id = :caseId")


@pytest.mark.parametrize(
    ("where", "field", "expected"),
    [
        (
            "CreatedDate > 2020-01-01",
            "CreatedDate",
            "dateTime and should not be enclosed in quotes",
        ),
        ("CreatedDate > '2020-01-01T00:00:00Z'", "CreatedDate", "dateTime and should not be " + Q),
        ("Due_Date__c = 2020-01-01T00:00:00Z", "Due_Date__c", "date and should not be " + Q),
        ("Due_Date__c = '2020-01-01'", "Due_Date__c", "date and should not be " + Q),
        ("IsClosed = 'false'", "IsClosed", "boolean and should not be enclosed in quotes"),
        ("Score__c = '5'", "Score__c", "double and should not be enclosed in quotes"),
        ("Attempts__c > '5'", "Attempts__c", "integer and should not be enclosed in quotes"),
        ("Subject = 5", "Subject", "string and should be enclosed in quotes"),
        ("Subject LIKE null", "Subject", "string and should be enclosed in quotes"),
        ("Status IN ('New', 5)", "Status", "string and should be enclosed in quotes"),
        ("Subject = TODAY", "Subject", "string and should be enclosed in quotes"),
        ("isclosed = 1", "isclosed", "boolean and should not be enclosed in quotes"),
    ],
)
def test_a_literal_of_the_wrong_type(world: World, where: str, field: str, expected: str) -> None:
    error = refused(world.org, f"SELECT Id FROM Case WHERE {where}")
    assert error.error_code == "INVALID_FIELD"
    assert error.message.endswith(
        f"\nvalue of filter criterion for field '{field}' must be of type {expected}"
    )


def test_a_string_that_is_not_an_id(world: World) -> None:
    error = refused(world.org, "SELECT Id FROM Case WHERE Id = 'abc'")
    assert error.error_code == "MALFORMED_QUERY"
    assert error.message == (
        "\nSELECT Id FROM Case WHERE Id = 'abc'\n                               ^\n"
        "ERROR at Row:1:Column:32\ninvalid ID field: abc"
    )
    error = refused(world.org, f"SELECT Id FROM Case WHERE ContactId IN ('{world.alice}', 'x')")
    assert error.message.endswith("\ninvalid ID field: x")


def test_long_text_areas_cannot_be_filtered_or_sorted(world: World) -> None:
    error = refused(world.org, "SELECT Id FROM Case WHERE Description LIKE '%x%'")
    assert (error.error_code, error.message.split("\n")[-1]) == (
        "INVALID_FIELD",
        "field 'Description' can not be filtered in a query call",
    )
    assert "Column:27" in error.message
    error = refused(world.org, "SELECT Id FROM Case ORDER BY description")
    assert error.message.endswith("\nfield 'Description' can not be sorted in a query call")
    # Selecting them is fine.
    assert world.org.query("SELECT Description FROM Case LIMIT 1").total_size == 1


def test_unknown_relationships(world: World) -> None:
    error = refused(world.org, "SELECT Id, Owner__r.Name FROM Case")
    assert error.error_code == "INVALID_FIELD"
    assert error.message == (
        "\nSELECT Id, Owner__r.Name FROM Case\n           ^\nERROR at Row:1:Column:12\n"
        "Didn't understand relationship 'Owner__r' in field path. If you are attempting to use "
        "a custom relationship, be sure to append the '__r' after the custom relationship name."
        + HINT
    )
    error = refused(world.org, "SELECT Id, (SELECT Id FROM Comments) FROM Case")
    assert error.error_code == "INVALID_TYPE"
    assert error.message == (
        "\nSELECT Id, (SELECT Id FROM Comments) FROM Case\n"
        "                           ^\nERROR at Row:1:Column:28\n"
        "Didn't understand relationship 'Comments' in FROM part of query call. If you are "
        "attempting to use a custom relationship, be sure to append the '__r' after the custom "
        "relationship name." + HINT
    )
    # A subquery names the relationship, not the child object.
    assert refused(world.org, "SELECT (SELECT Id FROM CaseComment) FROM Case").error_code == (
        "INVALID_TYPE"
    )


def test_a_field_selected_twice(world: World) -> None:
    # [src: soql_sosl FIELDS() docs: {"message": "duplicate field selected: Id",
    #  "errorCode": "INVALID_FIELD"}]
    for soql in ("SELECT Id, Subject, ID FROM Case", "SELECT c.Id, Id FROM Case c"):
        error = refused(world.org, soql)
        assert error.error_code == "INVALID_FIELD"
        assert error.message.startswith("duplicate field selected: ")
    assert refused(world.org, "SELECT Contact.Email, contact.email FROM Case").message == (
        "duplicate field selected: contact.email"
    )


def test_offset_limits(world: World) -> None:
    assert world.org.query("SELECT Id FROM Case OFFSET 2000").total_size == 0
    error = refused(world.org, "SELECT Id FROM Case OFFSET 2001")
    assert (error.error_code, error.message) == (
        "NUMBER_OUTSIDE_VALID_RANGE",
        "Maximum SOQL offset allowed is 2000",
    )
    error = refused(world.org, "SELECT (SELECT Id FROM CaseComments OFFSET 1) FROM Case")
    assert error.error_code == "MALFORMED_QUERY"
    error = refused(
        world.org, "SELECT Id FROM Case WHERE Id IN (SELECT ParentId FROM CaseComment OFFSET 1)"
    )
    assert error.error_code == "MALFORMED_QUERY"


def test_aggregates_cannot_mix_with_plain_fields(world: World) -> None:
    error = refused(world.org, "SELECT Status, COUNT(Id) FROM Case")
    assert error.error_code == "MALFORMED_QUERY"
    assert error.message.endswith("Column:8\nField must be grouped or aggregated: Status")
    error = refused(world.org, "SELECT Id, COUNT() FROM Case")
    assert error.error_code == "MALFORMED_QUERY"


def test_semi_join_must_select_one_id_field(world: World) -> None:
    for where in (
        "Id IN (SELECT ParentId, Id FROM CaseComment)",
        "Id IN (SELECT IsPublished FROM CaseComment)",
        "Subject IN (SELECT ParentId FROM CaseComment)",
    ):
        assert refused(world.org, f"SELECT Id FROM Case WHERE {where}").error_code == (
            "MALFORMED_QUERY"
        )
    error = refused(world.org, "SELECT Id FROM Case WHERE Id IN (SELECT Id FROM Nothing)")
    assert error.error_code == "INVALID_TYPE"


@pytest.mark.parametrize(
    ("soql", "feature"),
    [
        ("SELECT Status FROM Case GROUP BY Status", "GROUP BY"),
        ("SELECT Id FROM Case WITH SECURITY_ENFORCED", "WITH"),
        ("SELECT Id FROM Case USING SCOPE mine", "USING SCOPE"),
        ("SELECT Id FROM Case FOR VIEW", "FOR VIEW, FOR REFERENCE and FOR UPDATE"),
        ("SELECT MAX(CreatedDate) FROM Case", "MAX()"),
        ("SELECT Id FROM Case WHERE CALENDAR_YEAR(CreatedDate) = 2024", "CALENDAR_YEAR() in WHERE"),
        ("SELECT TYPEOF Owner WHEN User THEN Name END FROM Case", "TYPEOF"),
    ],
)
def test_valid_soql_the_emulator_does_not_evaluate_says_so(soql: str, feature: str) -> None:
    with pytest.raises(SoqlError) as caught:
        parse(soql)
    assert caught.value.error_code == "MALFORMED_QUERY"
    assert caught.value.message.endswith(
        f"\n{feature} is valid SOQL but not supported by the opencx-salesforce emulator"
    )
