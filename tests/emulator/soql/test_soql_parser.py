"""The parser's trees: what each clause and literal becomes."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal

from opencx_salesforce.emulator.soql import parse, render
from opencx_salesforce.emulator.soql.ast import (
    And,
    BooleanValue,
    Comparison,
    CountItem,
    DateLiteral,
    DateTimeValue,
    DateValue,
    FieldItem,
    FieldRef,
    Not,
    NullValue,
    NumberValue,
    Operator,
    Or,
    OrderItem,
    Query,
    SemiJoin,
    StringValue,
    SubqueryItem,
    ValueList,
)


def ref(text: str) -> FieldRef:
    return FieldRef(tuple(text.split(".")))


def where(condition: str) -> object:
    return parse(f"SELECT Id FROM Case WHERE {condition}").where


def test_a_full_query() -> None:
    query = parse(
        "SELECT Id, Contact.Email, (SELECT Id, CommentBody FROM CaseComments "
        "WHERE IsPublished = true ORDER BY CreatedDate LIMIT 5) "
        "FROM Case c WHERE Status = 'New' ORDER BY CreatedDate DESC NULLS LAST, Id "
        "LIMIT 10 OFFSET 20"
    )
    assert query == Query(
        select=(
            FieldItem(ref("Id")),
            FieldItem(ref("Contact.Email")),
            SubqueryItem(
                Query(
                    select=(FieldItem(ref("Id")), FieldItem(ref("CommentBody"))),
                    sobject=ref("CaseComments"),
                    where=Comparison(ref("IsPublished"), "=", BooleanValue(True)),
                    order_by=(OrderItem(ref("CreatedDate")),),
                    limit=5,
                )
            ),
        ),
        sobject=ref("Case"),
        alias="c",
        where=Comparison(ref("Status"), "=", StringValue("New")),
        order_by=(OrderItem(ref("CreatedDate"), True, "LAST"), OrderItem(ref("Id"))),
        limit=10,
        offset=20,
    )


def test_keywords_are_case_insensitive_and_spacing_is_free() -> None:
    assert parse("select id from case where status = 'x' order by id desc nulls first") == parse(
        "SELECT  id\n\tFROM case\r\nWHERE status='x'\nORDER BY id DESC NULLS FIRST"
    )


def test_positions_are_kept_for_errors() -> None:
    query = parse("SELECT Id,\n  Subject FROM Case WHERE Status = 'New'")
    subject = query.select[1]
    assert isinstance(subject, FieldItem)
    assert subject.field.pos == 13
    assert query.sobject.pos == 26
    assert isinstance(query.where, Comparison)
    assert query.where.value.pos == 46


def test_object_names_that_are_also_keywords() -> None:
    # Group and Order are objects. [stomita/soql-parse issue 3]
    assert parse("SELECT Name FROM Group WHERE Type = 'Queue'").sobject == ref("Group")
    assert parse("SELECT Id FROM Order ORDER BY Id").order_by == (OrderItem(ref("Id")),)


def test_operators() -> None:
    pairs: tuple[tuple[str, Operator], ...] = (
        ("=", "="),
        ("!=", "!="),
        ("<>", "!="),
        ("<", "<"),
        ("<=", "<="),
        (">", ">"),
        (">=", ">="),
        ("like", "LIKE"),
    )
    for written, operator in pairs:
        assert where(f"Subject {written} 'a'") == Comparison(
            ref("Subject"), operator, StringValue("a")
        )
    assert where("Status not in ('a', 'b')") == Comparison(
        ref("Status"), "NOT IN", ValueList((StringValue("a"), StringValue("b")))
    )
    assert where("Tags__c includes ('a;b')") == Comparison(
        ref("Tags__c"), "INCLUDES", ValueList((StringValue("a;b"),))
    )


def test_literals() -> None:
    def value(text: str) -> object:
        condition = where(f"X = {text}")
        assert isinstance(condition, Comparison)
        return condition.value

    assert value("null") == NullValue()
    assert value("TRUE") == BooleanValue(True)
    assert value("false") == BooleanValue(False)
    assert value("42") == NumberValue(Decimal(42))
    assert value("-1.25") == NumberValue(Decimal("-1.25"))
    assert value("+7") == NumberValue(Decimal(7))
    assert value("2024-02-29") == DateValue(date(2024, 2, 29))
    assert value("2005-10-08T01:02:03Z") == DateTimeValue(
        datetime(2005, 10, 8, 1, 2, 3, tzinfo=UTC)
    )
    plus_one = timezone(timedelta(hours=1))
    assert value("1999-01-01T23:01:01+01:00") == DateTimeValue(
        datetime(1999, 1, 1, 23, 1, 1, tzinfo=plus_one)
    )
    minus_eight = value("1999-01-01T23:01:01-08:00")
    assert isinstance(minus_eight, DateTimeValue)
    assert minus_eight.value.utcoffset() == timedelta(hours=-8)
    assert value("2005-10-08T01:02:03.250Z") == DateTimeValue(
        datetime(2005, 10, 8, 1, 2, 3, 250000, tzinfo=UTC)
    )
    assert value("today") == DateLiteral("TODAY")
    assert value("LAST_N_DAYS:30") == DateLiteral("LAST_N_DAYS", 30)
    assert value("n_days_ago : 2") == DateLiteral("N_DAYS_AGO", 2)
    assert value("LAST_N_HOURS:4") == DateLiteral("LAST_N_HOURS", 4)


def test_string_escapes_and_like_wildcards() -> None:
    condition = where(r"Subject LIKE 'it\'s \\ 100\% \_x_ %\n\t\u00e9\"'")
    assert condition == Comparison(
        ref("Subject"),
        "LIKE",
        StringValue("it's \\ 100% _x_ %\n\té\"", escaped_wildcards=(10, 12)),
    )


def test_logic_follows_the_grammar() -> None:
    a = Comparison(ref("A"), "=", NumberValue(Decimal(1)))
    b = Comparison(ref("B"), "=", NumberValue(Decimal(2)))
    c = Comparison(ref("C"), "=", NumberValue(Decimal(3)))
    assert where("A = 1 AND B = 2 AND C = 3") == And((a, b, c))
    assert where("A = 1 OR B = 2 OR C = 3") == Or((a, b, c))
    assert where("A = 1 AND (B = 2 OR C = 3)") == And((a, Or((b, c))))
    assert where("(A = 1 AND B = 2) OR C = 3") == Or((And((a, b)), c))
    assert where("NOT A = 1") == Not(a)
    assert where("(NOT A = 1) AND B = 2") == And((Not(a), b))
    assert where("NOT (A = 1 OR B = 2)") == Not(Or((a, b)))
    assert where("NOT (NOT A = 1)") == Not(Not(a))
    assert where("((A = 1))") == a


def test_count_and_semi_join() -> None:
    assert parse("SELECT COUNT() FROM Case").select == (CountItem(None),)
    assert parse("SELECT count(Id) total FROM Case").select == (CountItem(ref("Id"), "total"),)
    assert where("Id IN (SELECT ParentId FROM CaseComment WHERE IsPublished = false)") == (
        Comparison(
            ref("Id"),
            "IN",
            SemiJoin(
                Query(
                    select=(FieldItem(ref("ParentId")),),
                    sobject=ref("CaseComment"),
                    where=Comparison(ref("IsPublished"), "=", BooleanValue(False)),
                )
            ),
        )
    )


def test_render_writes_soql_that_parses_back() -> None:
    text = (
        "SELECT Id, COUNT(Id) n, (SELECT Id FROM Case.CaseComments ORDER BY CreatedDate "
        "NULLS LAST LIMIT 1 OFFSET 1) FROM Case c WHERE (NOT Status = 'New') AND "
        "(CreatedDate = LAST_N_DAYS:3 OR ClosedDate > 2024-01-01T00:00:00+05:30) AND "
        "Subject LIKE 'a\\%\\n%' AND Due__c IN (2024-01-01, TODAY) AND Id IN (SELECT ParentId "
        "FROM CaseComment) ORDER BY Subject DESC LIMIT 5"
    )
    query = parse(text)
    assert parse(render(query)) == query
    assert render(parse(render(query))) == render(query)
