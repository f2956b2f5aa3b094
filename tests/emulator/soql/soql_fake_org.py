"""A small in-memory org implementing the SOQL engine's ``SoqlSource``, for the
engine's tests: Case, CaseComment, Contact, Account, User and Group with their
standard relationships, plus a few custom fields of the types the engine
distinguishes. Stored values are JSON-ready, as the emulator stores them."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from opencx_salesforce.emulator.ids import IdFactory
from opencx_salesforce.emulator.soql import QueryResult, execute, parse

# A fixed "now" for relative date literals: Wednesday 2024-05-15 10:30 UTC.
NOW = datetime(2024, 5, 15, 10, 30, tzinfo=UTC)


@dataclass(frozen=True)
class Entry:
    value: str


@dataclass(frozen=True)
class Field:
    name: str
    type: str
    length: int = 0
    reference_to: tuple[str, ...] = ()
    relationship_name: str | None = None
    picklist_values: tuple[Entry, ...] = ()


def _picklist(name: str, *values: str) -> Field:
    return Field(name, "picklist", 255, picklist_values=tuple(Entry(v) for v in values))


def _ref(name: str, targets: tuple[str, ...], relationship: str) -> Field:
    return Field(name, "reference", 18, targets, relationship)


_AUDIT = [
    Field("Id", "id", 18),
    Field("IsDeleted", "boolean"),
    Field("CreatedDate", "datetime"),
    _ref("CreatedById", ("User",), "CreatedBy"),
]

DATA_OBJECTS: dict[str, list[Field]] = {
    "User": [
        Field("Name", "string", 121),
        Field("Email", "email", 128),
        Field("UserType", "picklist", 40),
        Field("IsActive", "boolean"),
        _ref("ManagerId", ("User",), "Manager"),
    ],
    "Group": [Field("Name", "string", 40), Field("Type", "picklist", 40)],
    "Account": [Field("Name", "string", 255)],
    "Contact": [
        Field("FirstName", "string", 40),
        Field("LastName", "string", 80),
        Field("Email", "email", 80),
        _ref("AccountId", ("Account",), "Account"),
    ],
    "Case": [
        Field("CaseNumber", "string", 30),
        Field("Subject", "string", 255),
        Field("Description", "textarea", 32000),
        _picklist("Status", "New", "Working", "Escalated", "Closed"),
        _picklist("Priority", "High", "Medium", "Low"),
        Field("IsClosed", "boolean"),
        Field("ClosedDate", "datetime"),
        _ref("ContactId", ("Contact",), "Contact"),
        _ref("AccountId", ("Account",), "Account"),
        _ref("ParentId", ("Case",), "Parent"),
        _ref("OwnerId", ("Group", "User"), "Owner"),
        Field("Case_From__c", "string", 20),
        Field("Due_Date__c", "date"),
        Field("Score__c", "double"),
        Field("Attempts__c", "int"),
        Field("Channels__c", "multipicklist", 4099),
    ],
    "CaseComment": [
        _ref("ParentId", ("Case",), "Parent"),
        Field("CommentBody", "textarea", 4000),
        Field("IsPublished", "boolean"),
    ],
}
DATA_CHILDREN = {
    ("Case", "CaseComments"): ("CaseComment", "ParentId"),
    ("Case", "Cases"): ("Case", "ParentId"),
    ("Contact", "Cases"): ("Case", "ContactId"),
    ("Account", "Contacts"): ("Contact", "AccountId"),
    ("User", "ManagedUsers"): ("User", "ManagerId"),
}
TOOLING_OBJECTS: dict[str, list[Field]] = {
    "ApexTrigger": [
        Field("Name", "string", 255),
        Field("TableEnumOrId", "picklist", 40),
        Field("Status", "picklist", 40),
        Field("IsValid", "boolean"),
        Field("ApiVersion", "double"),
    ],
}
KEY_PREFIXES = {
    "User": "005",
    "Group": "00G",
    "Account": "001",
    "Contact": "003",
    "Case": "500",
    "CaseComment": "00a",
    "ApexTrigger": "01q",
}


class FakeOrg:
    """Objects, relationships and records; ``add`` stores a record with every
    field present (absent ones null), as the emulator does."""

    def __init__(
        self,
        objects: Mapping[str, list[Field]] = DATA_OBJECTS,
        children: Mapping[tuple[str, str], tuple[str, str]] = DATA_CHILDREN,
    ) -> None:
        self.objects = {
            name: {f.name: f for f in _AUDIT + fields} for name, fields in objects.items()
        }
        self.children = dict(children)
        self.records: dict[str, dict[str, dict[str, Any]]] = {name: {} for name in objects}
        self._ids = IdFactory()
        self._clock = 0

    def add(self, sobject: str, **values: Any) -> str:
        record_id = self._ids.new(KEY_PREFIXES[sobject])
        self._clock += 1
        record: dict[str, Any] = {name: None for name in self.objects[sobject]}
        record.update(
            Id=record_id,
            IsDeleted=False,
            CreatedDate=f"2024-05-01T00:00:{self._clock % 60:02d}.000+0000",
        )
        record.update(values)
        self.records[sobject][record_id] = record
        return record_id

    def query(self, soql: str, **options: Any) -> QueryResult:
        options.setdefault("api_version", "62.0")
        options.setdefault("now", NOW)
        return execute(parse(soql), self, **options)

    # --- SoqlSource ------------------------------------------------------------

    def object_name(self, name: str) -> str | None:
        return next((known for known in self.objects if known.lower() == name.lower()), None)

    def field_defs(self, sobject: str) -> Mapping[str, Field]:
        return self.objects[sobject]

    def parent_relationship(self, sobject: str, name: str) -> tuple[str, str] | None:
        for item in self.objects[sobject].values():
            if item.relationship_name and item.relationship_name.lower() == name.lower():
                for target in item.reference_to:
                    if target in self.objects:
                        return item.name, target
        return None

    def child_relationship(self, sobject: str, name: str) -> tuple[str, str, str] | None:
        for (parent, relationship), (child, reference) in self.children.items():
            if parent == sobject and relationship.lower() == name.lower():
                return child, reference, relationship
        return None

    def rows(self, sobject: str, include_deleted: bool) -> Iterator[Mapping[str, Any]]:
        for record in self.records[sobject].values():
            if include_deleted or not record["IsDeleted"]:
                yield record

    def get(self, sobject: str, record_id: str) -> Mapping[str, Any] | None:
        return self.records.get(sobject, {}).get(record_id)
