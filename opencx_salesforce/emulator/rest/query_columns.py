"""``GET /query/?q=...&columns=true``: the selected columns, not the records.

The Salesforce CLI's ``sf data query`` asks for this before it runs the query and
reads ``columnMetadata`` to lay out its table ("Value is not a JsonArray" when
absent). The parameter and this shape are what Salesforce answers to the CLI, not
a documented part of the Query resource: UNCONFIRMED in the docs (the Query
resource documents ``q`` and ``explain`` only [src: api_rest resources_query.htm]).
The shape follows the CLI's own reading of it (``columnMetadata[]`` with
``columnName``, ``displayName``, ``aggregate``, ``joinColumns``; ``entityName``,
``groupBy``, ``idSelected``, ``keyPrefix``).
"""

from __future__ import annotations

from typing import Any

from opencx_salesforce.emulator.schema import FieldDef, Schema, SObjectDef
from opencx_salesforce.emulator.soql.ast import CountItem, FieldItem, Query, SubqueryItem

_NUMBER_TYPES = frozenset({"double", "int", "currency", "percent", "long"})
_TEXT_TYPES = frozenset(
    {"string", "textarea", "email", "phone", "url", "picklist", "multipicklist", "combobox"}
)
_APEX_TYPES = {
    "id": "Id",
    "reference": "Id",
    "boolean": "Boolean",
    "datetime": "Datetime",
    "date": "Date",
    "double": "Double",
    "int": "Integer",
    "currency": "Decimal",
    "percent": "Decimal",
}


def _column(name: str, item: FieldDef | None, joins: list[dict[str, Any]]) -> dict[str, Any]:
    kind = item.type if item is not None else ""
    return {
        "aggregate": bool(joins),
        "apexType": _APEX_TYPES.get(kind, "String") if item is not None and not joins else None,
        "booleanType": kind == "boolean",
        "columnName": name,
        "custom": bool(item and item.custom),
        "displayName": name,
        "foreignKeyName": None,
        "insertable": bool(item and item.createable),
        "joinColumns": joins,
        "numberType": kind in _NUMBER_TYPES,
        "textType": kind in _TEXT_TYPES,
        "updatable": bool(item and item.updateable),
    }


def _path_column(schema: Schema, obj: SObjectDef | None, parts: tuple[str, ...]) -> dict[str, Any]:
    """``Owner.Name`` is the column ``Owner`` joining ``Name`` on the parent."""
    if obj is not None and parts and parts[0].lower() == obj.name.lower() and len(parts) > 1:
        parts = parts[1:]  # "Case.Subject" names the queried object first
    head, rest = parts[0], parts[1:]
    if not rest:
        return _column(head, obj.field(head) if obj else None, [])
    parent: SObjectDef | None = None
    if obj is not None:
        for item in obj.fields.values():
            if item.relationship_name and item.relationship_name.lower() == head.lower():
                parent = schema.get(item.reference_to[0]) if item.reference_to else None
                head = item.relationship_name
                break
    joined = _path_column(schema, parent, rest)
    column = _column(head, None, [joined])
    column["aggregate"] = False
    return column


def columns_of(query: Query, schema: Schema) -> dict[str, Any]:
    obj = schema.get(query.sobject.parts[-1])
    columns: list[dict[str, Any]] = []
    expr = 0
    for item in query.select:
        if isinstance(item, FieldItem):
            columns.append(_path_column(schema, obj, item.field.parts))
        elif isinstance(item, CountItem):
            name = item.alias or f"expr{expr}"
            expr += item.alias is None
            column = _column(name, None, [])
            column.update({"aggregate": True, "apexType": "Integer", "numberType": True})
            columns.append(column)
        elif isinstance(item, SubqueryItem):
            child_name = item.query.sobject.parts[-1]
            child = None
            if obj is not None:
                for rel in obj.child_relationships:
                    if (rel.relationship_name or "").lower() == child_name.lower():
                        child = schema.get(rel.child_sobject)
                        child_name = rel.relationship_name or child_name
            inner = columns_of_subquery(item.query, schema, child)
            columns.append(_column(child_name, None, inner))
    names = [part.lower() for c in columns for part in [c["columnName"]]]
    return {
        "columnMetadata": columns,
        "entityName": obj.name if obj else query.sobject.text,
        "groupBy": False,
        "idSelected": "id" in names,
        "keyPrefix": obj.key_prefix if obj else None,
    }


def columns_of_subquery(
    query: Query, schema: Schema, child: SObjectDef | None
) -> list[dict[str, Any]]:
    return [
        _path_column(schema, child, item.field.parts)
        for item in query.select
        if isinstance(item, FieldItem)
    ]
