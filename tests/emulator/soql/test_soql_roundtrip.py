"""Properties: any query tree renders to SOQL that parses back to the same
tree, and no text makes the parser fail with anything but a SoqlError."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st
from soql_world import seed_world

from opencx_salesforce.emulator.soql import SoqlError, parse, render
from opencx_salesforce.emulator.soql.ast import (
    And,
    BooleanValue,
    Comparison,
    Condition,
    CountItem,
    DateLiteral,
    DateTimeValue,
    DateValue,
    FieldItem,
    FieldRef,
    Not,
    NullValue,
    NumberValue,
    Or,
    OrderItem,
    Query,
    Scalar,
    SelectItem,
    SemiJoin,
    StringValue,
    SubqueryItem,
    ValueList,
)
from opencx_salesforce.emulator.soql.dates import SIMPLE, WITH_NUMBER
from opencx_salesforce.emulator.soql.keywords import RESERVED

_NOT_NAMES = RESERVED | {"TYPEOF", "ORDER", "OFFSET", "FOR", "UPDATE", "ALL"}

_LETTERS = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
names = st.builds(
    lambda first, rest: first + rest,
    st.sampled_from(_LETTERS),
    st.text(alphabet=_LETTERS + "0123456789_", max_size=10),
).filter(lambda name: name.upper() not in _NOT_NAMES)
field_refs = st.lists(names, min_size=1, max_size=3).map(lambda parts: FieldRef(tuple(parts)))


@st.composite
def strings(draw: st.DrawFn) -> StringValue:
    pieces = draw(st.lists(st.tuples(st.characters(exclude_categories=["Cs"]), st.booleans())))
    text = "".join(char for char, _ in pieces)
    escaped = tuple(i for i, (char, flag) in enumerate(pieces) if flag and char in "%_")
    return StringValue(text, escaped)


numbers = st.decimals(
    min_value=Decimal(-(10**9)), max_value=Decimal(10**9), places=3, allow_nan=False
).map(NumberValue)
offsets = st.integers(min_value=-(23 * 60 + 59), max_value=23 * 60 + 59).map(
    lambda minutes: timezone(timedelta(minutes=minutes))
)
datetimes = st.datetimes(
    min_value=datetime(1, 1, 2), max_value=datetime(9999, 12, 30), timezones=offsets
).map(DateTimeValue)
date_literals = st.one_of(
    st.sampled_from(sorted(SIMPLE)).map(DateLiteral),
    st.builds(DateLiteral, st.sampled_from(sorted(WITH_NUMBER)), st.integers(0, 2000)),
)
scalars: st.SearchStrategy[Scalar] = st.one_of(
    strings(),
    numbers,
    st.booleans().map(BooleanValue),
    st.just(NullValue()),
    st.dates().map(DateValue),
    datetimes,
    date_literals,
)
semi_joins = st.builds(
    lambda field, sobject, where: SemiJoin(
        Query(select=(FieldItem(field),), sobject=FieldRef((sobject,)), where=where)
    ),
    field_refs,
    names,
    st.none() | st.builds(Comparison, field_refs, st.just("="), scalars),
)
comparisons = st.one_of(
    st.builds(
        Comparison,
        field_refs,
        st.sampled_from(["=", "!=", "<", ">", "<=", ">=", "LIKE"]),
        scalars,
    ),
    st.builds(
        Comparison,
        field_refs,
        st.sampled_from(["IN", "NOT IN", "INCLUDES", "EXCLUDES"]),
        st.lists(scalars, min_size=1, max_size=4).map(lambda items: ValueList(tuple(items))),
    ),
    st.builds(Comparison, field_refs, st.sampled_from(["IN", "NOT IN"]), semi_joins),
)
conditions: st.SearchStrategy[Condition] = st.recursive(
    comparisons,
    lambda inner: st.one_of(
        inner.map(Not),
        st.lists(inner, min_size=2, max_size=4).map(lambda items: And(tuple(items))),
        st.lists(inner, min_size=2, max_size=4).map(lambda items: Or(tuple(items))),
    ),
    max_leaves=8,
)
orders = st.builds(OrderItem, field_refs, st.booleans(), st.sampled_from([None, "FIRST", "LAST"]))
counts = st.builds(CountItem, st.none() | field_refs, st.none()) | st.builds(
    CountItem, field_refs, names
)


def queries(
    select_items: st.SearchStrategy[SelectItem], sobjects: st.SearchStrategy[FieldRef]
) -> st.SearchStrategy[Query]:
    return st.builds(
        Query,
        select=st.lists(select_items, min_size=1, max_size=4).map(tuple),
        sobject=sobjects,
        alias=st.none() | names,
        where=st.none() | conditions,
        order_by=st.lists(orders, max_size=3).map(tuple),
        limit=st.none() | st.integers(0, 50000),
        offset=st.none() | st.integers(0, 2000),
    )


subqueries = queries(st.builds(FieldItem, field_refs), field_refs).map(SubqueryItem)
top_queries = queries(
    st.one_of(st.builds(FieldItem, field_refs), counts, subqueries),
    names.map(lambda name: FieldRef((name,))),
)


@settings(max_examples=100, deadline=None, database=None)
@given(conditions)
def test_where_trees_render_to_soql_that_parses_back_to_the_same_tree(
    condition: Condition,
) -> None:
    query = Query(
        select=(FieldItem(FieldRef(("Id",))),), sobject=FieldRef(("Case",)), where=condition
    )
    text = render(query)
    assert parse(text) == query, text


@settings(max_examples=80, deadline=None, database=None)
@given(top_queries)
def test_whole_queries_round_trip(query: Query) -> None:
    text = render(query)
    assert parse(text) == query, text


@settings(max_examples=300, deadline=None, database=None)
@given(
    st.text(alphabet=st.sampled_from(list("SELECT FROM WHERE Id,()'\\:.=<>!-+%_ 0123456789TZ\n")))
    | st.text()
)
def test_the_parser_fails_only_with_soql_errors(text: str) -> None:
    try:
        parse(text)
    except SoqlError as error:
        assert error.error_code == "MALFORMED_QUERY"
        assert error.message


case_paths = st.sampled_from(
    [
        "Id",
        "Subject",
        "Status",
        "IsClosed",
        "ClosedDate",
        "CreatedDate",
        "Due_Date__c",
        "Score__c",
        "Attempts__c",
        "ContactId",
        "Channels__c",
        "Contact.LastName",
        "Parent.IsClosed",
        "Owner.Name",
        "CreatedBy.Manager.Name",
    ]
).map(lambda text: FieldRef(tuple(text.split("."))))
case_comparisons = st.one_of(
    st.builds(
        Comparison,
        case_paths,
        st.sampled_from(["=", "!=", "<", ">", "<=", ">=", "LIKE"]),
        scalars,
    ),
    st.builds(
        Comparison,
        case_paths,
        st.sampled_from(["IN", "NOT IN", "INCLUDES", "EXCLUDES"]),
        st.lists(scalars, min_size=1, max_size=3).map(lambda items: ValueList(tuple(items))),
    ),
)
case_conditions = st.recursive(
    case_comparisons,
    lambda inner: st.one_of(
        inner.map(Not),
        st.lists(inner, min_size=2, max_size=3).map(lambda items: And(tuple(items))),
        st.lists(inner, min_size=2, max_size=3).map(lambda items: Or(tuple(items))),
    ),
    max_leaves=6,
)


@settings(max_examples=150, deadline=None, database=None)
@given(case_conditions)
def test_any_where_either_answers_or_is_refused_with_a_soql_error(condition: Condition) -> None:
    world = seed_world()
    text = render(
        Query(select=(FieldItem(FieldRef(("Id",))),), sobject=FieldRef(("Case",)), where=condition)
    )
    try:
        result = world.org.query(text)
    except SoqlError as error:
        assert error.error_code in ("MALFORMED_QUERY", "INVALID_FIELD")
    else:
        assert result.total_size == len(result.records) <= 3
