"""ORDER BY: compiling an order item and sorting rows by it, each key with its
own direction and null placement, text case-insensitively and picklists in
their setup order."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from opencx_salesforce.emulator.soql.ast import OrderItem
from opencx_salesforce.emulator.soql.conditions import family, long_text, stored
from opencx_salesforce.emulator.soql.errors import located
from opencx_salesforce.emulator.soql.resolve import Path, Record, Resolver, Scope


@dataclass(frozen=True)
class OrderKey:
    """A compiled ORDER BY item."""

    path: Path
    descending: bool
    nulls_first: bool


def order_key(resolver: Resolver, scope: Scope, item: OrderItem) -> OrderKey:
    """An ORDER BY item compiled against ``scope``; long text and multi-select
    picklists can't be sorted."""
    path = resolver.path(scope, item.field)
    if long_text(path) or path.field.type == "multipicklist":
        raise located(
            "INVALID_FIELD",
            resolver.text,
            item.field.pos,
            f"field '{path.field.name}' can not be sorted in a query call",
        )
    # "By default, null values are sorted first."
    # [src: soql_sosl sforce_api_calls_soql_select_orderby.htm]
    nulls_first = item.nulls != "LAST"
    return OrderKey(path, item.descending, nulls_first)


def sort_rows(resolver: Resolver, rows: list[Record], order: list[OrderKey]) -> list[Record]:
    """``rows`` in ORDER BY order."""
    # Stable sorts from the last key to the first give a multi-key order
    # in which every key has its own direction and null placement.
    for key in reversed(order):
        value_of = sort_value(key.path)
        keyed = [(row, value_of(resolver.read(row, key.path))) for row in rows]
        nulls = [row for row, value in keyed if value is None]
        present = [(row, value) for row, value in keyed if value is not None]
        present.sort(key=lambda pair: pair[1], reverse=key.descending)
        ordered = [row for row, _ in present]
        rows = nulls + ordered if key.nulls_first else ordered + nulls
    return rows


def sort_value(path: Path) -> Callable[[Any], Any]:
    """How ORDER BY compares a field's stored values: text case-insensitively,
    picklists in their setup order ("Picklist sorting is defined by the picklist
    sort determined during setup"), values not in the list after those that
    are. [src: soql_sosl sforce_api_calls_soql_select_orderby.htm]"""
    info = path.field
    kind = family(info.type)
    if info.type != "picklist" or not info.picklist_values:
        return lambda value: stored(kind, value)
    ranks = {entry.value.casefold(): rank for rank, entry in enumerate(info.picklist_values)}

    def picklist(value: Any) -> tuple[int, str] | None:
        if value is None:
            return None
        text = str(value).casefold()
        return ranks.get(text, len(ranks)), text

    return picklist
