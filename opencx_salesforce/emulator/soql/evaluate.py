"""Running a parsed query against a :class:`SoqlSource`.

The whole query is checked before any record is read (unknown object, then
the select list, WHERE and ORDER BY in order), so a bad query fails the same
way however much data there is. Then: filter, sort, OFFSET, LIMIT, and build
each record in the documented JSON shape.

Result shape [src: soql_sosl sforce_api_calls_soql_relationships_query_results.htm;
api_rest resources_query.htm; SALESFORCE.md §5]:

- ``{"attributes": {"type": "Case", "url": "/services/data/v62.0/sobjects/Case/500..."}, ...}``
  (Tooling records' urls have ``/tooling/sobjects/``), then the selected fields
  in select order under their canonical names;
- a parent path nests the parent with its own attributes; a missing parent is
  ``null``;
- a child subquery is ``{"totalSize": n, "done": true, "records": [...]}``, or
  ``null`` when no child matches (UNCONFIRMED in the docs read; what the REST API
  returns in practice);
- ``SELECT COUNT()`` returns the count as ``totalSize`` and no records;
  ``COUNT(field)`` returns one ``AggregateResult`` record with ``expr0`` (or the
  alias). [src: soql_sosl sforce_api_calls_soql_select_count.htm]

Limits checked: OFFSET at most 2,000 (NUMBER_OUTSIDE_VALID_RANGE); OFFSET in a
subquery only when the parent query has LIMIT 1, never in a semi-join
(MALFORMED_QUERY). [src: soql_sosl sforce_api_calls_soql_select_offset.htm]
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from opencx_salesforce.emulator.soql.ast import (
    Condition,
    CountItem,
    FieldItem,
    Query,
    SemiJoin,
    SubqueryItem,
)
from opencx_salesforce.emulator.soql.conditions import (
    ConditionCompiler,
    Predicate,
    family,
    stored,
)
from opencx_salesforce.emulator.soql.errors import SoqlError, located
from opencx_salesforce.emulator.soql.id_lookup import wanted_ids
from opencx_salesforce.emulator.soql.ordering import OrderKey, order_key, sort_rows
from opencx_salesforce.emulator.soql.resolve import Path, Record, Resolver, Scope
from opencx_salesforce.emulator.soql.result import QueryResult
from opencx_salesforce.emulator.soql.source import SoqlSource

MAX_OFFSET = 2000


def execute(
    query: Query,
    source: SoqlSource,
    *,
    api_version: str,
    now: datetime,
    include_deleted: bool = False,
    tooling: bool = False,
) -> QueryResult:
    """Run ``query`` (from :func:`parse`) against ``source``.

    ``api_version`` (``"62.0"``) goes into record urls; ``now`` anchors relative
    date literals, and its time zone is the running user's (naive means UTC);
    ``include_deleted`` is ``/queryAll``; ``tooling`` makes record urls point at
    ``/tooling/sobjects/``. Raises :class:`SoqlError` for a query Salesforce
    would refuse; returns every matching row (paging is the endpoint's job)."""
    if now.tzinfo is None:
        now = now.replace(tzinfo=UTC)
    version = api_version.removeprefix("v")
    base = f"/services/data/v{version}/{'tooling/' if tooling else ''}sobjects/"
    run = _Run(Resolver(source, query.text, now), include_deleted, base)
    return run.execute(query)


# --- compiled queries ----------------------------------------------------------------


@dataclass
class _Select:
    """A compiled select list, filter and ordering over one object."""

    scope: Scope
    outputs: list[Path | _Child]
    where: Predicate | None
    order: list[OrderKey]
    limit: int | None
    offset: int | None


@dataclass
class _Child:
    """A compiled parent-to-child subquery."""

    relationship: str
    reference_field: str
    select: _Select
    # Matching children by parent Id, computed on first use.
    by_parent: dict[str, list[Record]] | None = field(default=None)


@dataclass(frozen=True)
class _Aggregate:
    """``COUNT(field)``: the number of rows whose field is not null."""

    key: str
    path: Path


class _Run:
    def __init__(self, resolver: Resolver, include_deleted: bool, url_base: str) -> None:
        self.resolver = resolver
        self.text = resolver.text
        self.include_deleted = include_deleted
        self.url_base = url_base
        self.conditions = ConditionCompiler(resolver, self._semi_join)

    # --- the top-level query ---------------------------------------------------

    def execute(self, query: Query) -> QueryResult:
        sobject = self.resolver.sobject(query.sobject)
        scope = self.resolver.scope(sobject, query.alias)
        counts = [item for item in query.select if isinstance(item, CountItem)]
        if any(item.field is None for item in counts):
            return self._count_rows(scope, query)
        if counts:
            return self._aggregate(scope, query)
        select = self._compile(scope, query, parent_limit=None)
        rows = self._rows(select, self._candidates(scope, query.where))
        return QueryResult(len(rows), [self._record(row, sobject, select) for row in rows])

    def _count_rows(self, scope: Scope, query: Query) -> QueryResult:
        if len(query.select) > 1:
            # COUNT() must be alone in the select list. [src: soql_sosl
            # sforce_api_calls_soql_select_count.htm] (message: emulator's wording)
            raise located(
                "MALFORMED_QUERY",
                self.text,
                query.pos,
                "COUNT() must be the only element in the SELECT list",
            )
        select = self._compile(scope, query, parent_limit=None, with_outputs=False)
        rows = self._rows(select, self._candidates(scope, query.where))
        return QueryResult(len(rows))

    def _aggregate(self, scope: Scope, query: Query) -> QueryResult:
        aggregates: list[_Aggregate] = []
        unnamed = 0
        for item in query.select:
            if isinstance(item, FieldItem):
                # [src: soql_sosl sforce_api_calls_soql_select_fields.htm: a plain field
                #  beside MIN() 'results in a "Field must be grouped or aggregated" error']
                raise located(
                    "MALFORMED_QUERY",
                    self.text,
                    item.field.pos,
                    f"Field must be grouped or aggregated: {item.field.text}",
                )
            if isinstance(item, SubqueryItem):
                raise located(
                    "MALFORMED_QUERY",
                    self.text,
                    item.query.pos,
                    "unexpected token: '('",
                )
            assert item.field is not None  # COUNT() alone is handled by _count_rows
            path = self.resolver.path(scope, item.field)
            key = item.alias
            if key is None:
                key = f"expr{unnamed}"
                unnamed += 1
            aggregates.append(_Aggregate(key, path))
        select = self._compile(scope, query, parent_limit=None, with_outputs=False)
        rows = self._rows(select, self._candidates(scope, query.where))
        record: dict[str, Any] = {"attributes": {"type": "AggregateResult"}}
        for aggregate in aggregates:
            path = aggregate.path
            record[aggregate.key] = sum(
                1 for row in rows if self.resolver.read(row, path) is not None
            )
        return QueryResult(1, [record])

    # --- compiling -------------------------------------------------------------

    def _compile(
        self,
        scope: Scope,
        query: Query,
        *,
        parent_limit: int | None,
        with_outputs: bool = True,
        nested: bool = False,
    ) -> _Select:
        outputs: list[Path | _Child] = []
        seen: set[tuple[str, ...]] = set()
        for item in query.select if with_outputs else ():
            if isinstance(item, FieldItem):
                path = self.resolver.path(scope, item.field)
                if path.key in seen:
                    # [src: soql_sosl sforce_api_calls_soql_select_fields.htm example body]
                    raise SoqlError("INVALID_FIELD", f"duplicate field selected: {item.field.text}")
                seen.add(path.key)
                outputs.append(path)
            elif isinstance(item, SubqueryItem):
                outputs.append(self._child(scope, item.query, query.limit))
            else:
                raise located("MALFORMED_QUERY", self.text, item.pos, "unexpected token: 'COUNT'")
        where = None if query.where is None else self.conditions.compile(scope, query.where)
        order = [order_key(self.resolver, scope, item) for item in query.order_by]
        if query.offset is not None:
            if query.offset > MAX_OFFSET:
                raise SoqlError(
                    "NUMBER_OUTSIDE_VALID_RANGE",
                    f"Maximum SOQL offset allowed is {MAX_OFFSET}",
                )
            if nested and parent_limit != 1:
                raise located(
                    "MALFORMED_QUERY",
                    self.text,
                    query.pos,
                    "A subquery can use OFFSET only if the parent query has a LIMIT 1 clause",
                )
        return _Select(scope, outputs, where, order, query.limit, query.offset)

    def _child(self, parent: Scope, query: Query, parent_limit: int | None) -> _Child:
        child_object, reference_field, relationship = self.resolver.child(parent, query.sobject)
        scope = self.resolver.scope(child_object, query.alias)
        if any(isinstance(item, CountItem) for item in query.select):
            item = next(item for item in query.select if isinstance(item, CountItem))
            raise located("MALFORMED_QUERY", self.text, item.pos, "unexpected token: 'COUNT'")
        select = self._compile(scope, query, parent_limit=parent_limit, nested=True)
        return _Child(relationship, reference_field, select)

    def _semi_join(self, scope: Scope, left: Path, join: SemiJoin, negate: bool) -> Predicate:
        inner = join.query
        sobject = self.resolver.sobject(inner.sobject)
        inner_scope = self.resolver.scope(sobject, inner.alias)
        items = inner.select
        if len(items) != 1 or not isinstance(items[0], FieldItem):
            # A semi-join selects one Id or reference field.
            # [src: soql_sosl sforce_api_calls_soql_select_comparisonoperators.htm
            #  "Semi-Joins with IN and Anti-Joins with NOT IN"] (message: emulator's wording)
            raise located(
                "MALFORMED_QUERY",
                self.text,
                inner.pos,
                "The inner query of a semi-join must select exactly one Id or reference field",
            )
        inner_path = self.resolver.path(inner_scope, items[0].field)
        if family(left.field.type) != "id" or family(inner_path.field.type) != "id":
            raise located(
                "MALFORMED_QUERY",
                self.text,
                join.pos,
                "A semi-join compares an Id or reference field with an Id or reference field",
            )
        if inner.offset is not None:
            raise located(
                "MALFORMED_QUERY", self.text, inner.pos, "OFFSET is not allowed in a semi-join"
            )
        select = self._compile(inner_scope, inner, parent_limit=None, with_outputs=False)
        found: set[str] | None = None

        def ids() -> set[str]:
            nonlocal found
            if found is None:
                rows = self._rows(select, self._candidates(inner_scope, inner.where))
                values = (stored("id", self.resolver.read(row, inner_path)) for row in rows)
                found = {value for value in values if value is not None}
            return found

        def member(record: Record) -> bool:
            value = stored("id", self.resolver.read(record, left))
            hit = value is not None and value in ids()
            return not hit if negate else hit

        return member

    # --- running ---------------------------------------------------------------

    def _candidates(self, scope: Scope, where: Condition | None) -> Iterable[Record]:
        """The rows a query must look at: those with the Ids the WHERE asks for
        when it does (``Id = '...'``, ``Id IN (...)``), else every row."""
        wanted = wanted_ids(scope, where)
        if wanted is None:
            return self.resolver.source.rows(scope.sobject, self.include_deleted)
        found = (self.resolver.source.get(scope.sobject, record_id) for record_id in wanted)
        return [
            row
            for row in found
            if row is not None and (self.include_deleted or not row.get("IsDeleted"))
        ]

    def _rows(self, select: _Select, rows: Iterable[Record]) -> list[Record]:
        matching = [row for row in rows if select.where is None or select.where(row)]
        return self._page(sort_rows(self.resolver, matching, select.order), select)

    def _page(self, rows: list[Record], select: _Select) -> list[Record]:
        start = select.offset or 0
        end = None if select.limit is None else start + select.limit
        return rows[start:end]

    # --- building results ------------------------------------------------------

    def _record(self, row: Record, sobject: str, select: _Select) -> dict[str, Any]:
        out: dict[str, Any] = {"attributes": self._attributes(sobject, row)}
        for output in select.outputs:
            if isinstance(output, _Child):
                out[output.relationship] = self._children(row, output)
            else:
                self._place(out, row, output)
        return out

    def _attributes(self, sobject: str, row: Record) -> dict[str, str]:
        return {"type": sobject, "url": f"{self.url_base}{sobject}/{row.get('Id')}"}

    def _place(self, out: dict[str, Any], row: Record, path: Path) -> None:
        """Put the value of ``path`` into ``out``, nesting parent objects."""
        node = out
        current = row
        for hop in path.hops:
            found = self.resolver.parent(current, hop)
            if found is None:
                node.setdefault(hop.relationship, None)
                return
            parent, parent_object = found
            nested = node.get(hop.relationship)
            if not isinstance(nested, dict):
                nested = {"attributes": self._attributes(parent_object, parent)}
                node[hop.relationship] = nested
            node = nested
            current = parent
        node[path.field.name] = current.get(path.field.name)

    def _children(self, row: Record, child: _Child) -> dict[str, Any] | None:
        if child.by_parent is None:
            child.by_parent = {}
            scope = child.select.scope
            for record in self.resolver.source.rows(scope.sobject, self.include_deleted):
                parent_id = stored("id", record.get(child.reference_field))
                if parent_id is None:
                    continue
                if child.select.where is None or child.select.where(record):
                    child.by_parent.setdefault(parent_id, []).append(record)
        matching = child.by_parent.get(str(row.get("Id")), [])
        rows = self._page(sort_rows(self.resolver, matching, child.select.order), child.select)
        if not rows:
            return None
        sobject = child.select.scope.sobject
        records = [self._record(record, sobject, child.select) for record in rows]
        return {"totalSize": len(records), "done": True, "records": records}
