"""WHERE: operators, logic, nulls, LIKE, IN, dates, relative dates, semi-joins."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from soql_fake_org import NOW
from soql_world import World

from opencx_salesforce.emulator.soql import SoqlError


def names(world: World, where: str, **options: object) -> list[str]:
    """CaseNumbers of the Cases matching ``where``, in CaseNumber order."""
    result = world.org.query(
        f"SELECT CaseNumber FROM Case WHERE {where} ORDER BY CaseNumber", **options
    )
    return [record["CaseNumber"][-1] for record in result.records]


# Cases: printer "0" (open, Alice, today), login "1" (open, Bob, yesterday),
# closed "2" (closed, no contact, in April).


@pytest.mark.parametrize(
    ("where", "expected"),
    [
        ("Status = 'New'", ["0"]),
        ("Status != 'New'", ["1", "2"]),
        ("Status <> 'New'", ["1", "2"]),
        ("Score__c > 1", ["0"]),
        ("Score__c >= 1", ["0", "2"]),
        ("Score__c < 4.5", ["2"]),
        ("Score__c <= 4.5", ["0", "2"]),
        ("Attempts__c = 0", ["1"]),
        ("Attempts__c > -1", ["0", "1"]),
        ("Score__c = 1.0", ["2"]),
        ("Subject > 'M'", ["0"]),
        ("Status IN ('New', 'Closed')", ["0", "2"]),
        ("Status NOT IN ('New', 'Closed')", ["1"]),
        ("IsClosed = true", ["2"]),
        ("IsClosed = FALSE", ["0", "1"]),
        ("CaseNumber = '00001001'", ["1"]),
    ],
)
def test_comparison_operators(world: World, where: str, expected: list[str]) -> None:
    assert names(world, where) == expected


def test_keywords_object_and_field_names_are_case_insensitive(world: World) -> None:
    result = world.org.query(
        "sElEcT caSEnumber FrOm cAsE wHeRe stATus = 'New' AnD isclosed = FALSE oRdEr By casenumber"
    )
    assert result.records[0]["CaseNumber"] == "00001000"


def test_text_comparison_is_case_insensitive(world: World) -> None:
    assert names(world, "Status = 'new'") == ["0"]
    assert names(world, "Status IN ('WORKING')") == ["1"]
    assert names(world, "Case_From__c = 'OpenCX'") == ["0", "1"]


def test_and_or_not_and_parentheses(world: World) -> None:
    assert names(world, "IsClosed = false AND Priority = 'High'") == ["0"]
    assert names(world, "Priority = 'High' OR Priority = 'Low' OR Status = 'Working'") == [
        "0",
        "1",
        "2",
    ]
    assert names(world, "NOT Status = 'New'") == ["1", "2"]
    assert names(world, "(NOT Status = 'New') AND IsClosed = false") == ["1"]
    assert names(world, "NOT (Status = 'New' OR Status = 'Closed')") == ["1"]


def test_parentheses_decide_the_grouping(world: World) -> None:
    # a AND (b OR c) differs from (a AND b) OR c: SOQL has no precedence
    # between AND and OR, so the query must say which it means.
    assert names(world, "IsClosed = true AND (Priority = 'High' OR Priority = 'Low')") == ["2"]
    assert names(world, "(IsClosed = true AND Priority = 'High') OR Priority = 'Low'") == ["2"]
    assert names(world, "(IsClosed = false AND Priority = 'High') OR Priority = 'Low'") == [
        "0",
        "2",
    ]
    assert names(world, "IsClosed = false AND (Priority = 'High' OR Priority = 'Low')") == ["0"]
    assert names(world, "((Status = 'New'))") == ["0"]


def test_null_comparisons(world: World) -> None:
    assert names(world, "ContactId = null") == ["2"]
    assert names(world, "ContactId != null") == ["0", "1"]
    assert names(world, "Score__c = null") == ["1"]
    # A null field fails every other comparison but !=.
    assert names(world, "Score__c < 100") == ["0", "2"]
    assert names(world, "Score__c != 1") == ["0", "1"]
    assert names(world, "Case_From__c != 'opencx'") == ["2"]
    assert names(world, "Case_From__c NOT IN ('opencx')") == ["2"]
    assert names(world, "Case_From__c IN ('opencx', null)") == ["0", "1", "2"]


def test_null_on_a_boolean_field_matches_false(world: World) -> None:
    # "WHERE Test_c = null is equivalent to WHERE Test_c = false".
    world.org.records["Case"][world.login]["IsClosed"] = None
    assert names(world, "IsClosed = null") == ["0", "1"]
    assert names(world, "IsClosed != null") == ["2"]


def test_parent_paths_in_where(world: World) -> None:
    assert names(world, "Contact.LastName = 'Smith'") == ["0"]
    assert names(world, "Parent.Status = 'New'") == ["2"]
    assert names(world, "Contact.Account.Name = 'Acme'") == ["0"]
    assert names(world, "CreatedBy.UserType = 'CspLitePortal'") == ["1"]
    assert names(world, "Owner.Name = 'Support Queue'") == ["1"]


def test_parent_path_through_a_missing_parent_reads_null(world: World) -> None:
    # "the record is returned even if the parent does not exist".
    # A boolean read through a missing parent is null, and null matches FALSE.
    assert names(world, "Parent.IsClosed = false") == ["0", "1", "2"]
    assert names(world, "Parent.IsClosed = true") == []
    assert names(world, "Contact.LastName = null") == ["2"]
    assert names(world, "Contact.Account.Name = null") == ["1", "2"]
    assert names(world, "Contact.LastName = 'Jones' OR Parent.Subject = 'Printer on fire'") == [
        "1",
        "2",
    ]


@pytest.mark.parametrize(
    ("pattern", "expected"),
    [
        ("'printer%'", ["0"]),
        ("'%FAIL%'", ["1"]),
        ("'Login fails'", ["1"]),
        ("'Login fail'", []),
        ("'L_gin%'", ["1"]),
        ("'_rinter on fire'", ["0"]),
        ("'100\\% broken%'", ["2"]),
        ("'100\\%%'", ["2"]),
        ("'1%\\_thing'", ["2"]),
        ("'%\\_%'", ["2"]),
        ("'100\\%'", []),
        ("'%'", ["0", "1", "2"]),
    ],
)
def test_like(world: World, pattern: str, expected: list[str]) -> None:
    assert names(world, f"Subject LIKE {pattern}") == expected


def test_like_never_matches_null(world: World) -> None:
    assert names(world, "Case_From__c LIKE '%'") == ["0", "1"]
    assert names(world, "NOT Case_From__c LIKE 'open%'") == ["2"]


def test_string_escapes(world: World) -> None:
    org = world.org
    org.records["Case"][world.login]["Subject"] = 'Bob\'s "login"\n\tfails \\ é'
    assert names(world, "Subject = 'Bob\\'s \\\"login\\\"\\n\\tfails \\\\ \\u00e9'") == ["1"]
    assert names(world, "Subject = 'Bob\\'s \\\"LOGIN\\\"\\N\\Tfails \\\\ \\u00E9'") == ["1"]


def test_in_with_ids_accepts_15_and_18_character_ids(world: World) -> None:
    assert names(world, f"Id IN ('{world.printer[:15]}', '{world.closed}')") == ["0", "2"]
    assert names(world, f"ContactId = '{world.alice[:15]}'") == ["0"]
    assert names(world, f"Id = '{world.login}' AND Status = 'Working'") == ["1"]
    assert names(world, f"Id = '{world.login}' AND Status = 'New'") == []


def test_multi_select_picklist_includes_and_excludes(world: World) -> None:
    assert names(world, "Channels__c INCLUDES ('chat')") == ["0"]
    assert names(world, "Channels__c INCLUDES ('Email;Chat', 'Phone')") == ["0", "1"]
    assert names(world, "Channels__c INCLUDES ('Email;Phone')") == []
    assert names(world, "Channels__c EXCLUDES ('Email')") == ["1", "2"]
    with pytest.raises(SoqlError, match=r"only valid on multipicklist field$"):
        names(world, "Status INCLUDES ('New')")


def test_date_and_datetime_literals(world: World) -> None:
    assert names(world, "Due_Date__c = 2024-05-20") == ["0"]
    assert names(world, "Due_Date__c < 2024-05-20") == ["1"]
    assert names(world, "CreatedDate > 2024-05-15T00:00:00Z") == ["0"]
    assert names(world, "CreatedDate >= 2024-05-14T23:59:59Z") == ["0", "1"]
    assert names(world, "CreatedDate < 2024-05-01T00:00:00.000Z") == ["2"]
    # 08:00 UTC is 01:00 at -07:00; an offset literal means that instant.
    assert names(world, "CreatedDate = 2024-05-15T01:00:00-07:00") == ["0"]
    assert names(world, "CreatedDate = 2024-05-15T10:00:00+0200") == ["0"]
    assert names(world, "ClosedDate = 2024-05-10T12:00:00Z") == ["2"]


@pytest.mark.parametrize(
    ("where", "expected"),
    [
        ("CreatedDate = TODAY", ["0"]),
        ("CreatedDate = YESTERDAY", ["1"]),
        ("CreatedDate = TOMORROW", []),
        ("CreatedDate > YESTERDAY", ["0"]),
        ("CreatedDate < TODAY", ["1", "2"]),
        ("CreatedDate >= YESTERDAY", ["0", "1"]),
        ("CreatedDate <= YESTERDAY", ["1", "2"]),
        ("CreatedDate != TODAY", ["1", "2"]),
        ("CreatedDate = LAST_N_DAYS:1", ["0", "1"]),
        ("CreatedDate = LAST_N_DAYS:0", ["0"]),
        ("CreatedDate = LAST_N_DAYS:60", ["0", "1", "2"]),
        ("CreatedDate = N_DAYS_AGO:1", ["1"]),
        ("CreatedDate = N_DAYS_AGO:44", ["2"]),
        ("CreatedDate = LAST_90_DAYS", ["0", "1", "2"]),
        ("CreatedDate = THIS_MONTH", ["0", "1"]),
        ("CreatedDate = LAST_MONTH", ["2"]),
        # The week of Wednesday 2024-05-15 starts on Sunday the 12th.
        ("CreatedDate = THIS_WEEK", ["0", "1"]),
        ("CreatedDate = THIS_YEAR", ["0", "1", "2"]),
        ("CreatedDate = LAST_N_HOURS:2", ["0"]),
        ("CreatedDate = LAST_N_HOURS:11", ["0", "1"]),
        ("ClosedDate = LAST_N_WEEKS:1", ["2"]),
        ("ClosedDate = LAST_N_WEEKS:2", ["2"]),
        ("CreatedDate = LAST_N_WEEKS:1", []),
        ("ClosedDate = THIS_WEEK", []),
        ("ClosedDate = LAST_WEEK", ["2"]),
        ("Due_Date__c = TODAY", []),
        ("Due_Date__c = YESTERDAY", ["1"]),
        ("Due_Date__c = NEXT_N_DAYS:5", ["0"]),
        ("Due_Date__c = NEXT_N_DAYS:4", []),
        ("Due_Date__c > TODAY", ["0"]),
        ("Due_Date__c IN (YESTERDAY, TOMORROW)", ["1"]),
    ],
)
def test_relative_date_literals(world: World, where: str, expected: list[str]) -> None:
    assert names(world, where) == expected


def test_day_boundaries_follow_the_time_zone_of_now(world: World) -> None:
    # 2024-05-14T23:59:59Z is already the 15th at +02:00.
    plus_two = NOW.astimezone(timezone(timedelta(hours=2)))
    assert names(world, "CreatedDate = TODAY", now=plus_two) == ["0", "1"]
    later = datetime(2024, 5, 16, 0, 30, tzinfo=UTC)
    assert names(world, "CreatedDate = YESTERDAY", now=later) == ["0"]


def test_naive_now_is_utc(world: World) -> None:
    assert names(world, "CreatedDate = TODAY", now=NOW.replace(tzinfo=None)) == ["0"]


def test_semi_join_and_anti_join(world: World) -> None:
    assert names(world, "Id IN (SELECT ParentId FROM CaseComment WHERE IsPublished = false)") == [
        "0"
    ]
    assert names(world, "Id IN (SELECT ParentId FROM CaseComment)") == ["0", "1"]
    assert names(world, "Id NOT IN (SELECT ParentId FROM CaseComment)") == ["2"]
    assert names(world, "ContactId IN (SELECT Id FROM Contact WHERE LastName = 'Jones')") == ["1"]
    # Deleted comments don't count, unless queryAll.
    world.org.records["CaseComment"][world.reset_link]["IsDeleted"] = True
    assert names(world, "Id IN (SELECT ParentId FROM CaseComment)") == ["0"]
    assert names(world, "Id IN (SELECT ParentId FROM CaseComment)", include_deleted=True) == [
        "0",
        "1",
    ]


def test_alias_prefixes_are_accepted(world: World) -> None:
    result = world.org.query(
        "SELECT c.CaseNumber, c.Contact.LastName FROM Case c WHERE c.Status = 'New' "
        "ORDER BY c.CaseNumber"
    )
    assert result.records[0]["CaseNumber"] == "00001000"
    assert result.records[0]["Contact"]["LastName"] == "Smith"
    assert names(world, "Case.Status = 'Working'") == ["1"]
