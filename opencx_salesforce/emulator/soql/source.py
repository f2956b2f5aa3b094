"""What the SOQL engine needs from the org it queries: the interface the data
side implements (once for the data API, once for the Tooling API, each with its
own set of objects).

Names passed in are as the query wrote them, in any case: SOQL is
case-insensitive. Names given back are canonical API names.

Stored records are JSON-ready mappings keyed by canonical field names: Ids as
18-character strings, dateTimes as ``"2013-05-20T20:49:32.000+0000"``, dates as
``"YYYY-MM-DD"``, booleans, numbers, ``None``. Every record has ``Id`` and
``IsDeleted``; a field missing from a record reads as null.
[src: SALESFORCE.md §5 "Returned dateTime JSON format"]
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Protocol

# Field types (describe's ``type``) the engine distinguishes. Any other type
# compares as text.
TEXT_TYPES = frozenset(
    {
        "string",
        "textarea",
        "email",
        "phone",
        "url",
        "picklist",
        "multipicklist",
        "combobox",
        "encryptedstring",
        "time",
        "anyType",
    }
)
ID_TYPES = frozenset({"id", "reference"})
NUMBER_TYPES = frozenset({"int", "long", "double", "currency", "percent"})


class PicklistEntry(Protocol):
    @property
    def value(self) -> str:
        """The value as stored (the API name of the picklist entry)."""


class FieldInfo(Protocol):
    """One field as describe reports it. The emulator's schema ``FieldDef``
    satisfies this as it is."""

    @property
    def name(self) -> str:
        """Canonical API name, e.g. ``CreatedById``."""

    @property
    def type(self) -> str:
        """Describe type: id, reference, string, textarea, email, phone, url,
        picklist, multipicklist, boolean, int, double, currency, percent, date,
        datetime, ..."""

    @property
    def length(self) -> int:
        """Text length; a textarea longer than 255 is a long text area, which
        SOQL can select but not filter or sort on."""

    @property
    def reference_to(self) -> tuple[str, ...]:
        """For a reference: the objects it can point to (several when
        polymorphic, like ``Case.OwnerId`` -> Group, User)."""

    @property
    def relationship_name(self) -> str | None:
        """For a reference: the parent relationship's name (``CreatedById`` ->
        ``CreatedBy``)."""

    @property
    def picklist_values(self) -> Sequence[PicklistEntry]:
        """For a picklist: its values in their setup order, which is the order
        ORDER BY sorts them in."""


class SoqlSource(Protocol):
    """An org's objects and records, as the SOQL engine reads them."""

    def object_name(self, name: str) -> str | None:
        """The canonical name of a queryable object (``"case"`` -> ``"Case"``),
        or None if this API has no such object (-> INVALID_TYPE)."""

    def field_defs(self, sobject: str) -> Mapping[str, FieldInfo]:
        """Every field of ``sobject`` (canonical name), keyed by canonical field
        name."""

    def parent_relationship(self, sobject: str, name: str) -> tuple[str, str] | None:
        """A child-to-parent relationship by name: ``(reference field, parent
        object)``, e.g. ``("Case", "contact")`` -> ``("ContactId", "Contact")``,
        ``("CaseComment", "CreatedBy")`` -> ``("CreatedById", "User")``. For a
        polymorphic reference, the parent object is the first of its targets
        this API knows; the engine tries the others too. None if unknown."""

    def child_relationship(self, sobject: str, name: str) -> tuple[str, str, str] | None:
        """A parent-to-child relationship by name: ``(child object, the child's
        reference field, canonical relationship name)``, e.g. ``("Case",
        "casecomments")`` -> ``("CaseComment", "ParentId", "CaseComments")``.
        None if unknown."""

    def rows(self, sobject: str, include_deleted: bool) -> Iterable[Mapping[str, Any]]:
        """The stored records of ``sobject`` in creation order; with
        ``include_deleted`` also those in the Recycle Bin (``queryAll``)."""

    def get(self, sobject: str, record_id: str) -> Mapping[str, Any] | None:
        """One stored record by 18-character Id (deleted ones included), or
        None if ``sobject`` has no record with that Id."""
