"""WHERE conditions compiled into predicates over stored records.

Literals are checked against the field's type first, the way Salesforce
refuses a query before running it:

- a quoted value for a date, dateTime, boolean or number field, or a value of
  the wrong kind: INVALID_FIELD "value of filter criterion for field 'X' must be
  of type dateTime and should not be enclosed in quotes"; a date (YYYY-MM-DD)
  filters only date fields and a dateTime only dateTime fields;
- a string that is not an Id, for an Id or reference field: MALFORMED_QUERY
  "invalid ID field: abc" (MALFORMED_QUERY replaced INVALID_QUERY_FILTER_OPERATOR
  in Summer '24);
- a long text area: INVALID_FIELD "field 'Description' can not be filtered in a
  query call".
[src: soql_sosl sforce_api_calls_soql_select_dateformats.htm; Summer '24
 release notes "SOQL: Changed Error Code"; recorded error bodies in public code]

Comparison semantics:

- text compares case-insensitively, LIKE too (``%`` any run, ``_`` one
  character, ``\\%``/``\\_`` literal) [src: sforce_api_calls_soql_select_comparisonoperators.htm];
- ``= null`` / ``!= null`` test for null; on a boolean field null matches FALSE
  [src: soql_sosl sforce_api_calls_soql_null.htm];
- a null field fails every other comparison except ``!=`` and ``NOT IN``, which
  it passes: SOQL treats null as a value unlike SQL (UNCONFIRMED in the docs);
- a path through a missing parent reads null, so ``Contact.LastName = null``
  matches Cases without a Contact (API v13.0 and later)
  [src: soql_sosl sforce_api_calls_soql_relationships_lookup.htm];
- date literals are ranges (see :mod:`.dates`): ``=`` inside, ``<`` before the
  start, ``>`` at or after the end.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from opencx_salesforce.emulator.ids import is_valid_id, to18
from opencx_salesforce.emulator.soql import dates
from opencx_salesforce.emulator.soql.ast import (
    And,
    BooleanValue,
    Comparison,
    Condition,
    DateLiteral,
    DateTimeValue,
    DateValue,
    Not,
    NullValue,
    NumberValue,
    Or,
    Scalar,
    SemiJoin,
    StringValue,
    Value,
    ValueList,
)
from opencx_salesforce.emulator.soql.errors import located
from opencx_salesforce.emulator.soql.resolve import Path, Record, Resolver, Scope
from opencx_salesforce.emulator.soql.source import ID_TYPES, NUMBER_TYPES

Predicate = Callable[[Record], bool]
# Builds the predicate of a semi-join (``Id IN (SELECT ...)``); given by the
# evaluator, which knows how to run a query.
SemiJoinCompiler = Callable[[Scope, Path, SemiJoin, bool], Predicate]

_LONG_TEXT = 255


def long_text(path: Path) -> bool:
    """Long and rich text areas can be selected but not filtered or sorted."""
    return path.field.type == "textarea" and path.field.length > _LONG_TEXT


def family(field_type: str) -> str:
    """How a field's values compare: text, id, boolean, number, date or datetime."""
    if field_type in ID_TYPES:
        return "id"
    if field_type in NUMBER_TYPES:
        return "number"
    if field_type in ("boolean", "date", "datetime"):
        return field_type
    return "text"


def stored(kind: str, value: Any) -> Any:
    """A stored JSON value in the comparable form of its field's family."""
    if kind == "boolean":
        return bool(value)  # null matches FALSE
    if value is None:
        return None
    if kind == "text":
        return str(value).casefold()
    if kind == "id":
        return to18(str(value)) if len(str(value)) == 15 else str(value)
    if kind == "number":
        try:
            return Decimal(str(value))
        except InvalidOperation:
            return None
    if kind == "date":
        return date.fromisoformat(str(value)[:10])
    if kind == "datetime":
        return datetime.fromisoformat(str(value))
    return value


class ConditionCompiler:
    def __init__(self, resolver: Resolver, semi_join: SemiJoinCompiler) -> None:
        self.resolver = resolver
        self.semi_join = semi_join

    def compile(self, scope: Scope, condition: Condition) -> Predicate:
        if isinstance(condition, And):
            parts = [self.compile(scope, item) for item in condition.items]
            return lambda record: all(part(record) for part in parts)
        if isinstance(condition, Or):
            parts = [self.compile(scope, item) for item in condition.items]
            return lambda record: any(part(record) for part in parts)
        if isinstance(condition, Not):
            inner = self.compile(scope, condition.item)
            return lambda record: not inner(record)
        return self.comparison(scope, condition)

    def comparison(self, scope: Scope, comparison: Comparison) -> Predicate:
        resolver = self.resolver
        path = resolver.path(scope, comparison.field)
        if long_text(path):
            raise located(
                "INVALID_FIELD",
                resolver.text,
                comparison.field.pos,
                f"field '{path.field.name}' can not be filtered in a query call",
            )
        operator = comparison.operator
        value = comparison.value
        if isinstance(value, SemiJoin):
            return self.semi_join(scope, path, value, operator == "NOT IN")
        kind = family(path.field.type)

        def read(record: Record) -> Any:
            return stored(kind, resolver.read(record, path))

        if isinstance(value, ValueList):
            if operator in ("INCLUDES", "EXCLUDES"):
                return self._includes(path, value, read, operator == "EXCLUDES")
            wanted = [self.literal(path, kind, item) for item in value.items]
            inside = [item for item in wanted if not isinstance(item, tuple)]
            ranges = [item for item in wanted if isinstance(item, tuple)]

            def is_in(record: Record) -> bool:
                actual = read(record)
                if actual is None:
                    return None in inside
                return actual in inside or any(low <= actual < high for low, high in ranges)

            if operator == "NOT IN":
                return lambda record: not is_in(record)
            return is_in
        if operator == "LIKE":
            return self._like(path, value, read)
        literal = self.literal(path, kind, value)
        if isinstance(literal, tuple):
            return _in_range(operator, literal, read)
        return _compare(operator, literal, read)

    # --- literals ----------------------------------------------------------------

    def literal(self, path: Path, kind: str, value: Scalar) -> Any:
        """The literal in the comparable form of the field's family; a
        ``(start, end)`` tuple for a date literal. Refuses a literal of the
        wrong type."""
        if isinstance(value, NullValue):
            return False if kind == "boolean" else None
        if kind == "text" and isinstance(value, StringValue):
            return value.value.casefold()
        if kind == "id" and isinstance(value, StringValue):
            if not is_valid_id(value.value):
                raise located(
                    "MALFORMED_QUERY",
                    self.resolver.text,
                    value.pos,
                    f"invalid ID field: {value.value}",
                )
            return to18(value.value)
        if kind == "boolean" and isinstance(value, BooleanValue):
            return value.value
        if kind == "number" and isinstance(value, NumberValue):
            return value.value
        if kind == "date" and isinstance(value, DateValue):
            return value.value
        if kind == "datetime" and isinstance(value, DateTimeValue):
            return value.value
        if kind in ("date", "datetime") and isinstance(value, DateLiteral):
            start, end = dates.date_range(value.name, value.n, self.resolver.now)
            if kind == "date":
                return start.date(), end.date()
            return start, end
        raise self._wrong_type(path, kind, value)

    def _wrong_type(self, path: Path, kind: str, value: Value) -> Exception:
        expected = {
            "text": "string",
            "id": "id",
            "boolean": "boolean",
            "number": "integer" if path.field.type in ("int", "long") else "double",
            "date": "date",
            "datetime": "dateTime",
        }[kind]
        quoting = "be enclosed in quotes" if kind in ("text", "id") else "not be enclosed in quotes"
        return located(
            "INVALID_FIELD",
            self.resolver.text,
            value.pos,
            f"value of filter criterion for field '{path.written.parts[-1]}' must be of type "
            f"{expected} and should {quoting}",
        )

    def _like(self, path: Path, value: Value, read: Callable[[Record], Any]) -> Predicate:
        if not isinstance(value, StringValue):
            raise self._wrong_type(path, "text", value)
        pattern = like_pattern(value)
        kind = family(path.field.type)

        def matches(record: Record) -> bool:
            actual = read(record)
            if actual is None:
                return False
            text = actual if kind == "text" else str(actual)
            return pattern.fullmatch(text) is not None

        return matches

    def _includes(
        self,
        path: Path,
        value: ValueList,
        read: Callable[[Record], Any],
        negate: bool,
    ) -> Predicate:
        # Multi-select picklists only; 'A;B' means both A and B are selected.
        # [src: soql_sosl sforce_api_calls_soql_querying_multiselect_picklists.htm]
        if path.field.type != "multipicklist":
            # (message wording UNCONFIRMED)
            raise located(
                "MALFORMED_QUERY",
                self.resolver.text,
                path.written.pos,
                "includes or excludes operator only valid on multipicklist field",
            )
        wanted: list[set[str]] = []
        for item in value.items:
            if not isinstance(item, StringValue):
                raise self._wrong_type(path, "text", item)
            wanted.append({part.strip().casefold() for part in item.value.split(";")})

        def includes(record: Record) -> bool:
            actual = read(record)
            chosen = {part.strip() for part in actual.split(";")} if actual else set()
            return any(group <= chosen for group in wanted)

        if negate:
            return lambda record: not includes(record)
        return includes


def like_pattern(value: StringValue) -> re.Pattern[str]:
    """A LIKE pattern as a case-insensitive regular expression."""
    out = []
    for index, char in enumerate(value.value):
        if index in value.escaped_wildcards:
            out.append(re.escape(char))
        elif char == "%":
            out.append(".*")
        elif char == "_":
            out.append(".")
        else:
            out.append(re.escape(char))
    return re.compile("".join(out), re.IGNORECASE | re.DOTALL)


def _compare(operator: str, literal: Any, read: Callable[[Record], Any]) -> Predicate:
    if literal is None:
        if operator == "=":
            return lambda record: read(record) is None
        if operator == "!=":
            return lambda record: read(record) is not None
        return lambda record: False
    tests: dict[str, Callable[[Any], bool]] = {
        "=": lambda actual: bool(actual == literal),
        "!=": lambda actual: bool(actual != literal),
        "<": lambda actual: bool(actual < literal),
        ">": lambda actual: bool(actual > literal),
        "<=": lambda actual: bool(actual <= literal),
        ">=": lambda actual: bool(actual >= literal),
    }
    test = tests[operator]

    def compare(record: Record) -> bool:
        actual = read(record)
        if actual is None:
            return operator == "!="
        return test(actual)

    return compare


def _in_range(operator: str, bounds: tuple[Any, Any], read: Callable[[Record], Any]) -> Predicate:
    start, end = bounds
    tests: dict[str, Callable[[Any], bool]] = {
        "=": lambda actual: bool(start <= actual < end),
        "!=": lambda actual: not start <= actual < end,
        "<": lambda actual: bool(actual < start),
        ">": lambda actual: bool(actual >= end),
        "<=": lambda actual: bool(actual < end),
        ">=": lambda actual: bool(actual >= start),
    }
    test = tests[operator]

    def compare(record: Record) -> bool:
        actual = read(record)
        if actual is None:
            return operator == "!="
        return test(actual)

    return compare


__all__ = ["ConditionCompiler", "Predicate", "family", "like_pattern", "long_text", "stored"]
