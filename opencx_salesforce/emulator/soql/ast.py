"""The parsed shape of a SOQL query.

Names are kept as written (SOQL is case-insensitive; the evaluator resolves
them against the schema). Every node remembers the offset where it starts in
the query text, for error positions; offsets take no part in equality, so two
queries that differ only in spacing parse to equal trees.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Literal, TypeAlias


def _pos() -> int:
    return field(default=-1, compare=False, repr=False)


# --- values ------------------------------------------------------------------------


@dataclass(frozen=True)
class StringValue:
    value: str
    # Offsets in ``value`` of ``%``/``_`` that LIKE must match literally (``\\%``).
    escaped_wildcards: tuple[int, ...] = ()
    pos: int = _pos()


@dataclass(frozen=True)
class NumberValue:
    value: Decimal
    pos: int = _pos()


@dataclass(frozen=True)
class BooleanValue:
    value: bool
    pos: int = _pos()


@dataclass(frozen=True)
class NullValue:
    pos: int = _pos()


@dataclass(frozen=True)
class DateValue:
    value: date
    pos: int = _pos()


@dataclass(frozen=True)
class DateTimeValue:
    value: datetime  # aware
    pos: int = _pos()


@dataclass(frozen=True)
class DateLiteral:
    """A relative range such as ``TODAY`` or ``LAST_N_DAYS:30`` (``n`` is set for
    the ``_N_`` forms). ``name`` is upper case."""

    name: str
    n: int | None = None
    pos: int = _pos()


Scalar: TypeAlias = (
    StringValue | NumberValue | BooleanValue | NullValue | DateValue | DateTimeValue | DateLiteral
)


@dataclass(frozen=True)
class ValueList:
    items: tuple[Scalar, ...]
    pos: int = _pos()


@dataclass(frozen=True)
class SemiJoin:
    """``IN (SELECT field FROM Object ...)``."""

    query: Query
    pos: int = _pos()


Value: TypeAlias = Scalar | ValueList | SemiJoin

# --- conditions --------------------------------------------------------------------

Operator = Literal["=", "!=", "<", ">", "<=", ">=", "LIKE", "IN", "NOT IN", "INCLUDES", "EXCLUDES"]


@dataclass(frozen=True)
class FieldRef:
    """A field or a path through parent relationships (``Contact.Account.Name``)."""

    parts: tuple[str, ...]
    pos: int = _pos()

    @property
    def text(self) -> str:
        return ".".join(self.parts)


@dataclass(frozen=True)
class Comparison:
    field: FieldRef
    operator: Operator
    value: Value
    pos: int = _pos()


@dataclass(frozen=True)
class And:
    items: tuple[Condition, ...]  # two or more


@dataclass(frozen=True)
class Or:
    items: tuple[Condition, ...]  # two or more


@dataclass(frozen=True)
class Not:
    item: Condition


Condition: TypeAlias = Comparison | And | Or | Not

# --- the query ---------------------------------------------------------------------


@dataclass(frozen=True)
class FieldItem:
    field: FieldRef


@dataclass(frozen=True)
class CountItem:
    """``COUNT()`` (``field`` None) or ``COUNT(field) [alias]``."""

    field: FieldRef | None
    alias: str | None = None
    pos: int = _pos()


@dataclass(frozen=True)
class SubqueryItem:
    """A parent-to-child subquery in the select list."""

    query: Query


SelectItem: TypeAlias = FieldItem | CountItem | SubqueryItem


@dataclass(frozen=True)
class OrderItem:
    field: FieldRef
    descending: bool = False
    nulls: Literal["FIRST", "LAST"] | None = None


@dataclass(frozen=True)
class Query:
    select: tuple[SelectItem, ...]
    # The object (top level, semi-join) or child relationship (subquery), as
    # written; dotted when a subquery names it through its parent (``Case.CaseComments``).
    sobject: FieldRef
    alias: str | None = None
    where: Condition | None = None
    order_by: tuple[OrderItem, ...] = ()
    limit: int | None = None
    offset: int | None = None
    pos: int = _pos()
    # The whole query text, shared by subqueries, for error positions.
    text: str = field(default="", compare=False, repr=False)
