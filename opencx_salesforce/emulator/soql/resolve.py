"""Names in a query resolved against the source: objects, fields, and paths
through parent relationships; and reading a path's value from a record.

Errors carry Salesforce's messages and the position of the name in the query.
[src: SALESFORCE.md §10; forcedotcom/soql-tooling issue 86 (the "No such column"
message); recorded error bodies for "Didn't understand relationship ... in field
path" (INVALID_FIELD) and "... in FROM part of query call" (INVALID_TYPE)]
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from opencx_salesforce.emulator.soql.ast import FieldRef
from opencx_salesforce.emulator.soql.errors import located
from opencx_salesforce.emulator.soql.source import FieldInfo, SoqlSource

_REFERENCE_HINT = " Please reference your WSDL or the describe call for the appropriate names."
NO_SUCH_COLUMN = (
    "No such column '{name}' on entity '{sobject}'. If you are attempting to use a custom "
    "field, be sure to append the '__c' after the custom field name." + _REFERENCE_HINT
)
UNKNOWN_OBJECT = (
    "sObject type '{name}' is not supported. If you are attempting to use a custom object, "
    "be sure to append the '__c' after the entity name." + _REFERENCE_HINT
)
UNKNOWN_PARENT = (
    "Didn't understand relationship '{name}' in field path. If you are attempting to use a "
    "custom relationship, be sure to append the '__r' after the custom relationship name."
    + _REFERENCE_HINT
)
UNKNOWN_CHILD = (
    "Didn't understand relationship '{name}' in FROM part of query call. If you are "
    "attempting to use a custom relationship, be sure to append the '__r' after the custom "
    "relationship name." + _REFERENCE_HINT
)

Record = Mapping[str, Any]


@dataclass(frozen=True)
class Hop:
    """One step from a record to its parent."""

    relationship: str  # canonical relationship name: the key in results
    reference_field: str  # canonical name of the reference field
    targets: tuple[str, ...]  # objects the reference may point to, likeliest first


@dataclass(frozen=True)
class Path:
    """A resolved field or parent path."""

    hops: tuple[Hop, ...]
    field: FieldInfo
    written: FieldRef

    @property
    def key(self) -> tuple[str, ...]:
        """Identity of the path, for spotting a field selected twice."""
        return (*(hop.relationship.lower() for hop in self.hops), self.field.name.lower())


@dataclass(frozen=True)
class Scope:
    """The object a (sub)query reads, and the prefixes its paths may start
    with: the object's name and its alias (``SELECT c.Subject FROM Case c``).
    [src: soql_sosl sforce_api_calls_soql_alias.htm "Alias Notation"]"""

    sobject: str
    prefixes: frozenset[str]


class Resolver:
    """Looks names up in a :class:`SoqlSource` for one query execution, and
    reads records through it (parents are cached for the execution)."""

    def __init__(self, source: SoqlSource, text: str, now: datetime) -> None:
        self.source = source
        self.text = text
        self.now = now
        self._fields: dict[str, dict[str, FieldInfo]] = {}
        self._records: dict[tuple[str, str], Record | None] = {}

    # --- names -------------------------------------------------------------------

    def sobject(self, ref: FieldRef) -> str:
        name = ref.text
        canonical = self.source.object_name(name) if len(ref.parts) == 1 else None
        if canonical is None:
            raise located("INVALID_TYPE", self.text, ref.pos, UNKNOWN_OBJECT.format(name=name))
        return canonical

    def scope(self, sobject: str, alias: str | None) -> Scope:
        prefixes = {sobject.lower()}
        if alias:
            prefixes.add(alias.lower())
        return Scope(sobject, frozenset(prefixes))

    def fields(self, sobject: str) -> dict[str, FieldInfo]:
        known = self._fields.get(sobject)
        if known is None:
            known = {info.name.lower(): info for info in self.source.field_defs(sobject).values()}
            self._fields[sobject] = known
        return known

    def child(self, scope: Scope, ref: FieldRef) -> tuple[str, str, str]:
        """``(child object, its reference field, relationship name)`` of a
        subquery's FROM (``CaseComments``, or ``Case.CaseComments``)."""
        parts = list(ref.parts)
        if len(parts) == 2 and parts[0].lower() in scope.prefixes:
            parts = parts[1:]
        found = None
        if len(parts) == 1:
            found = self.source.child_relationship(scope.sobject, parts[0])
        if found is None:
            raise located("INVALID_TYPE", self.text, ref.pos, UNKNOWN_CHILD.format(name=ref.text))
        return found

    def path(self, scope: Scope, ref: FieldRef) -> Path:
        parts = list(ref.parts)
        if (
            len(parts) > 1
            and parts[0].lower() in scope.prefixes
            and self.source.parent_relationship(scope.sobject, parts[0]) is None
        ):
            parts = parts[1:]
        candidates: tuple[str, ...] = (scope.sobject,)
        hops: list[Hop] = []
        for part in parts[:-1]:
            hop = self._hop(candidates, part)
            if hop is None:
                raise located("INVALID_FIELD", self.text, ref.pos, UNKNOWN_PARENT.format(name=part))
            hops.append(hop)
            candidates = hop.targets
        last = parts[-1]
        for sobject in candidates:
            info = self.fields(sobject).get(last.lower())
            if info is not None:
                return Path(tuple(hops), info, ref)
        raise located(
            "INVALID_FIELD",
            self.text,
            ref.pos,
            NO_SUCH_COLUMN.format(name=last, sobject=candidates[0]),
        )

    def _hop(self, candidates: tuple[str, ...], name: str) -> Hop | None:
        for sobject in candidates:
            found = self.source.parent_relationship(sobject, name)
            if found is None:
                continue
            reference_field, primary = found
            info = self.fields(sobject).get(reference_field.lower())
            others = () if info is None else info.reference_to
            more = [
                target
                for target in others
                if target != primary and self.source.object_name(target) is not None
            ]
            targets = (primary, *more)
            relationship = (info.relationship_name if info else None) or name
            return Hop(relationship, reference_field, targets)
        return None

    # --- records -----------------------------------------------------------------

    def parent(self, record: Record, hop: Hop) -> tuple[Record, str] | None:
        """The parent ``hop`` leads to from ``record`` and its object, or None."""
        parent_id = record.get(hop.reference_field)
        if not parent_id:
            return None
        for sobject in hop.targets:
            key = (sobject, parent_id)
            if key not in self._records:
                self._records[key] = self.source.get(sobject, parent_id)
            found = self._records[key]
            if found is not None:
                return found, sobject
        return None

    def read(self, record: Record, path: Path) -> Any:
        current: Record | None = record
        for hop in path.hops:
            found = self.parent(current, hop) if current is not None else None
            current = found[0] if found else None
        return None if current is None else current.get(path.field.name)
