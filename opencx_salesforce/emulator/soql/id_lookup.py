"""The Ids a WHERE clause plainly restricts a query to (``Id = '...'``,
``Id IN (...)``, possibly inside an AND), so the query reads those rows by Id
instead of scanning the object."""

from __future__ import annotations

from typing import Any

from opencx_salesforce.emulator.ids import is_valid_id, to18
from opencx_salesforce.emulator.soql.ast import (
    And,
    Comparison,
    Condition,
    FieldRef,
    StringValue,
    ValueList,
)
from opencx_salesforce.emulator.soql.resolve import Scope


def wanted_ids(scope: Scope, where: Condition | None) -> list[str] | None:
    """The Ids a WHERE restricts the query to, if it plainly does."""
    if isinstance(where, And):
        for item in where.items:
            found = wanted_ids(scope, item)
            if found is not None:
                return found
        return None
    if not isinstance(where, Comparison) or not _is_id(scope, where.field):
        return None
    values: list[Any]
    if where.operator == "=":
        values = [where.value]
    elif where.operator == "IN" and isinstance(where.value, ValueList):
        values = list(where.value.items)
    else:
        return None
    ids = [value.value for value in values if isinstance(value, StringValue)]
    if len(ids) != len(values) or not all(is_valid_id(text) for text in ids):
        return None
    return list(dict.fromkeys(to18(text) for text in ids))


def _is_id(scope: Scope, ref: FieldRef) -> bool:
    parts = [part.lower() for part in ref.parts]
    if len(parts) == 2 and parts[0] in scope.prefixes:
        parts = parts[1:]
    return parts == ["id"]
