"""The org as the SOQL engine's data source (data API or Tooling API)."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Any

from opencx_salesforce.emulator.schema import FieldDef

if TYPE_CHECKING:
    from opencx_salesforce.emulator.org import Org


class SoqlView:
    """The org as the SOQL engine's data source, for either the data API or the
    Tooling API (each exposes its own set of objects)."""

    def __init__(self, org: Org, *, tooling: bool) -> None:
        self._org = org
        self._tooling = tooling

    def _visible(self, name: str) -> Any:
        obj = self._org.schema.get(name)
        if obj is None or not obj.queryable:
            return None
        if self._tooling and not obj.tooling_api:
            return None
        if not self._tooling and not obj.data_api:
            return None
        return obj

    def object_name(self, name: str) -> str | None:
        obj = self._visible(name)
        return None if obj is None else str(obj.name)

    def field_defs(self, sobject: str) -> Mapping[str, FieldDef]:
        return self._org.schema.objects[sobject].fields

    def parent_relationship(self, sobject: str, name: str) -> tuple[str, str] | None:
        obj = self._org.schema.objects[sobject]
        lowered = name.lower()
        for item in obj.fields.values():
            if item.relationship_name and item.relationship_name.lower() == lowered:
                for target in item.reference_to:
                    if self._visible(target) is not None:
                        return item.name, target
        return None

    def child_relationship(self, sobject: str, name: str) -> tuple[str, str, str] | None:
        obj = self._org.schema.objects[sobject]
        lowered = name.lower()
        for relation in obj.child_relationships:
            named = relation.relationship_name or ""
            if named.lower() == lowered and self._visible(relation.child_sobject) is not None:
                return relation.child_sobject, relation.field, named
        return None

    def rows(self, sobject: str, include_deleted: bool) -> Iterator[Mapping[str, Any]]:
        for record in self._org.records[sobject].values():
            if include_deleted or not record.get("IsDeleted"):
                yield record

    def get(self, sobject: str, record_id: str) -> Mapping[str, Any] | None:
        return self._org.stored(sobject, record_id)
