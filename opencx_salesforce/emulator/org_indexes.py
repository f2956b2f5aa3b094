"""Lookup indexes of an org: live records by value for the fields records are
looked up by (external IDs, unique fields, idLookup), so upserts and uniqueness
checks stay fast on big orgs."""

from __future__ import annotations

from typing import Any

from opencx_salesforce.emulator.schema import FieldDef, Schema

Record = dict[str, Any]


class LookupIndexes:
    """Record Ids by normalised field value, per indexed (object, field)."""

    def __init__(self, schema: Schema) -> None:
        self._schema = schema
        self._indexes: dict[tuple[str, str], dict[Any, dict[str, None]]] = {}
        for obj in schema.objects.values():
            for item in obj.fields.values():
                if item.name != "Id" and (item.external_id or item.unique or item.id_lookup):
                    self._indexes[(obj.name, item.name)] = {}

    def ids(self, sobject: str, item: FieldDef, value: Any) -> list[str] | None:
        """Ids of live records whose ``item`` equals ``value`` (see
        :func:`normalise`), or None when the field is not indexed."""
        index = self._indexes.get((sobject, item.name))
        if index is None:
            return None
        return list(index.get(normalise(item, value), ()))

    def reindex(
        self, sobject: str, record_id: str, before: Record | None, after: Record | None
    ) -> None:
        """Move ``record_id`` from its ``before`` values to its ``after`` values."""
        obj = self._schema.objects[sobject]
        for (indexed_object, name), index in self._indexes.items():
            if indexed_object != sobject:
                continue
            item = obj.fields[name]
            for record, adding in ((before, False), (after, True)):
                if record is None or record.get("IsDeleted") or record.get(name) is None:
                    continue
                key = normalise(item, record[name])
                ids = index.setdefault(key, {})
                if adding:
                    ids[record_id] = None
                else:
                    ids.pop(record_id, None)
                    if not ids:
                        del index[key]


def normalise(item: FieldDef, value: Any) -> Any:
    """``value`` as lookups compare it: text case-folded unless the field is
    case-sensitive. [src: SALESFORCE.md §4 — external-ID matching is
    case-insensitive unless the field is case-sensitive unique]"""
    fold = item.is_text and not item.case_sensitive
    if isinstance(value, str):
        return value.casefold() if fold else value
    if item.is_text:
        return str(value).casefold() if fold else str(value)
    return value
