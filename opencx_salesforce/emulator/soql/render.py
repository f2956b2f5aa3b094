"""A :class:`~opencx_salesforce.emulator.soql.ast.Query` back to SOQL text.

``parse(render(query)) == query`` for every query the parser produces, which is
what the round-trip tests check. Values are written the way SOQL reads them:
strings single-quoted with backslash escapes, dates and dateTimes unquoted.
[src: soql_sosl sforce_api_calls_soql_select_quotedstringescapes.htm;
 sforce_api_calls_soql_select_dateformats.htm]
"""

from __future__ import annotations

from datetime import timedelta

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
    Not,
    NullValue,
    NumberValue,
    Query,
    SemiJoin,
    StringValue,
    SubqueryItem,
    Value,
    ValueList,
)

_ESCAPES = {
    "\\": "\\\\",
    "'": "\\'",
    "\n": "\\n",
    "\r": "\\r",
    "\t": "\\t",
    "\b": "\\b",
    "\f": "\\f",
}


def render(query: Query) -> str:
    parts = ["SELECT", ", ".join(_select_item(item) for item in query.select)]
    parts += ["FROM", query.sobject.text]
    if query.alias:
        parts.append(query.alias)
    if query.where is not None:
        parts += ["WHERE", render_condition(query.where)]
    if query.order_by:
        orders = []
        for order in query.order_by:
            text = order.field.text + (" DESC" if order.descending else "")
            if order.nulls:
                text += f" NULLS {order.nulls}"
            orders.append(text)
        parts += ["ORDER BY", ", ".join(orders)]
    if query.limit is not None:
        parts += ["LIMIT", str(query.limit)]
    if query.offset is not None:
        parts += ["OFFSET", str(query.offset)]
    return " ".join(parts)


def _select_item(item: FieldItem | CountItem | SubqueryItem) -> str:
    if isinstance(item, FieldItem):
        return item.field.text
    if isinstance(item, SubqueryItem):
        return f"({render(item.query)})"
    inner = "" if item.field is None else item.field.text
    return f"COUNT({inner})" + (f" {item.alias}" if item.alias else "")


def render_condition(condition: Condition) -> str:
    """A WHERE condition; nested AND/OR/NOT groups are parenthesised, as SOQL
    requires when operators mix."""
    if isinstance(condition, Comparison):
        return f"{condition.field.text} {condition.operator} {render_value(condition.value)}"
    if isinstance(condition, Not):
        return f"NOT {_operand(condition.item)}"
    joiner = " AND " if isinstance(condition, And) else " OR "
    return joiner.join(_operand(item) for item in condition.items)


def _operand(condition: Condition) -> str:
    text = render_condition(condition)
    return text if isinstance(condition, Comparison) else f"({text})"


def render_value(value: Value) -> str:
    if isinstance(value, StringValue):
        return _string(value)
    if isinstance(value, NumberValue):
        return format(value.value, "f")
    if isinstance(value, BooleanValue):
        return "true" if value.value else "false"
    if isinstance(value, NullValue):
        return "null"
    if isinstance(value, DateValue):
        return value.value.isoformat()
    if isinstance(value, DateTimeValue):
        return _datetime(value)
    if isinstance(value, DateLiteral):
        return value.name if value.n is None else f"{value.name}:{value.n}"
    if isinstance(value, ValueList):
        return "(" + ", ".join(render_value(item) for item in value.items) + ")"
    assert isinstance(value, SemiJoin)
    return f"({render(value.query)})"


def _string(value: StringValue) -> str:
    out = []
    for index, char in enumerate(value.value):
        if index in value.escaped_wildcards:
            out.append("\\" + char)
        else:
            out.append(_ESCAPES.get(char, char))
    return "'" + "".join(out) + "'"


def _datetime(value: DateTimeValue) -> str:
    moment = value.value
    # isoformat pads years below 1000 to four digits, as the literal needs.
    text = moment.replace(tzinfo=None).isoformat()
    offset = moment.utcoffset() or timedelta(0)
    if offset == timedelta(0):
        return text + "Z"
    sign = "-" if offset < timedelta(0) else "+"
    minutes = abs(int(offset.total_seconds())) // 60
    return f"{text}{sign}{minutes // 60:02d}:{minutes % 60:02d}"
