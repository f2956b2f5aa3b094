"""One emulated org: its schema, its records, its sequences, its API usage and
its fault knobs.

Records are stored JSON-ready (text, numbers, booleans, ``None``; dateTimes as
``2013-05-20T20:49:32.000+0000``), every field of the object present, under
canonical field names. A deleted record stays, with ``IsDeleted`` true, like the
Recycle Bin: ``queryAll`` still sees it.

The org is also the SOQL engine's data source for the data API (``/query``);
``org.tooling`` is its source for the Tooling API (``/tooling/query``).
"""

from __future__ import annotations

import weakref
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from opencx_salesforce.emulator.api_usage import ApiUsage
from opencx_salesforce.emulator.faults import FaultConfig
from opencx_salesforce.emulator.ids import is_valid_id, to18
from opencx_salesforce.emulator.merge import MergeResult
from opencx_salesforce.emulator.merge import merge as merge_records
from opencx_salesforce.emulator.org_metadata import ToolingMetadata
from opencx_salesforce.emulator.org_seed import seed_records
from opencx_salesforce.emulator.rest.errors import ApiError, not_found
from opencx_salesforce.emulator.schema import FieldDef, Schema, build_schema
from opencx_salesforce.emulator.soql_view import SoqlView
from opencx_salesforce.emulator.validation import format_datetime, validate_write

if TYPE_CHECKING:
    from opencx_salesforce.emulator.rest.dispatch import Route
    from opencx_salesforce.emulator.state import EmulatorState, OrgIdentity

Record = dict[str, Any]

# The first Case gets number 00001000: an eight-digit auto-number starting at 1000
# (Salesforce's default Case Number display format). UNCONFIRMED start value.
CASE_NUMBER_START = 1000
CASE_NUMBER_DIGITS = 8



@dataclass(frozen=True)
class Change:
    """A record write, as :attr:`Org.listeners` hear it once the org has stored it
    (the simulated package's triggers listen here).

    ``before`` is None for an insert; ``after`` is the record as stored (a delete
    stores it with ``IsDeleted`` true). ``undone`` marks :meth:`Org.restore` putting
    a record back: ``after`` is then the restored record (None when the undone write
    was an insert) and ``user_id`` is None."""

    sobject: str
    record_id: str
    before: Record | None
    after: Record | None
    user_id: str | None
    undone: bool = False


@dataclass(eq=False)
class Snapshot:
    """What :meth:`Org.restore` needs to undo every change made since
    :meth:`Org.snapshot`: an undo journal (kept only while the snapshot is alive)
    and the sequence values."""

    case_number: int
    undo: list[tuple[str, str, Record | None]] = field(default_factory=list)


class Org:
    def __init__(self, identity: OrgIdentity, state: EmulatorState) -> None:
        self.identity = identity
        self.state = state
        self.id = identity.org_id
        self.seed = identity.seed
        self.schema: Schema = build_schema(identity.seed)
        # When the schema last changed, for describe's If-Modified-Since.
        self.schema_modified: float = state.clock.now()
        self.records: dict[str, dict[str, Record]] = {name: {} for name in self.schema.objects}
        self.api_calls = ApiUsage(identity.seed.daily_api_limit, state.clock.now)
        self.faults = FaultConfig()
        # Extra REST resources of this org, checked before the core ones (a test
        # simulating a deployed package adds e.g. tooling/executeAnonymous here).
        self.rest_routes: list[Route] = []
        # Called after every insert, update and delete that can fire a trigger (not
        # cascade deletes, not a merge's reparenting), and for each record a
        # restore() puts back; see Change.
        self.listeners: list[Callable[[Change], None]] = []
        # Open query cursors by locator; see rest/query.py.
        self.query_cursors: dict[str, Any] = {}
        self._case_number = CASE_NUMBER_START
        self._journals: weakref.WeakSet[Snapshot] = weakref.WeakSet()
        self._indexes: dict[tuple[str, str], dict[Any, dict[str, None]]] = {}
        self._build_indexes()
        self.metadata = ToolingMetadata(self)
        self.tooling = SoqlView(self, tooling=True)
        self.data = SoqlView(self, tooling=False)
        self.automated_process_user_id = ""
        self.automated_process_user_id = seed_records(self)

    # --- time and users ---------------------------------------------------------------

    def now(self) -> str:
        return format_datetime(self.state.clock.utcnow())

    @property
    def default_user_id(self) -> str:
        """Who tests act as when they write through the Python API: the first
        seeded user, else the org's Automated Process user."""
        for user_id in self.identity.user_ids.values():
            return user_id
        return self.automated_process_user_id

    def user_id_for(self, username: str) -> str:
        return self.identity.user_ids[username]

    # --- the SOQL engine's source for the data API (soql/source.py SoqlSource) ---------

    def object_name(self, name: str) -> str | None:
        return self.data.object_name(name)

    def field_defs(self, sobject: str) -> Mapping[str, FieldDef]:
        return self.data.field_defs(sobject)

    def parent_relationship(self, sobject: str, name: str) -> tuple[str, str] | None:
        return self.data.parent_relationship(sobject, name)

    def child_relationship(self, sobject: str, name: str) -> tuple[str, str, str] | None:
        return self.data.child_relationship(sobject, name)

    def rows(self, sobject: str, include_deleted: bool) -> Iterator[Mapping[str, Any]]:
        return self.data.rows(sobject, include_deleted)

    def get(self, sobject: str, record_id: str) -> Mapping[str, Any] | None:
        return self.data.get(sobject, record_id)

    # --- extension points ---------------------------------------------------------------

    def add_rest_route(self, route: Route) -> None:
        self.rest_routes.append(route)

    # --- reading ------------------------------------------------------------------------

    def stored(self, sobject: str, record_id: str) -> Record | None:
        """The record as stored (deleted or not), by 15- or 18-character Id."""
        table = self.records.get(sobject)
        if table is None or not is_valid_id(record_id):
            return None
        return table.get(to18(record_id))

    def live(self, sobject: str, record_id: str) -> Record | None:
        record = self.stored(sobject, record_id)
        return None if record is None or record.get("IsDeleted") else record

    def find_by_field(self, sobject: str, field_name: str, value: Any) -> list[Record]:
        """Live records whose ``field_name`` equals ``value``; text compares
        case-insensitively unless the field is case-sensitive.
        [src: SALESFORCE.md §4 — external-ID matching is case-insensitive unless the
        field is case-sensitive unique]"""
        obj = self.schema.objects[sobject]
        item = obj.fields[field_name]
        if item.name == "Id":
            found = self.live(sobject, str(value))
            return [found] if found is not None else []
        fold = item.is_text and not item.case_sensitive
        wanted = _normalise(item, value, fold)
        index = self._indexes.get((sobject, item.name))
        if index is not None:
            table = self.records[sobject]
            return [table[record_id] for record_id in index.get(wanted, ())]
        return [
            record
            for record in self.records[sobject].values()
            if not record.get("IsDeleted")
            and record.get(item.name) is not None
            and _normalise(item, record[item.name], fold) == wanted
        ]

    # --- writing (validated; raise ApiError) ---------------------------------------------

    def create(self, sobject: str, body: Mapping[str, Any], *, user_id: str | None = None) -> str:
        """Validate ``body`` and insert it; returns the new Id."""
        obj = self._writable(sobject, "create")
        values = validate_write(self, obj, dict(body))
        return self.insert(obj.name, values, user_id=user_id or self.default_user_id)

    def update(
        self,
        sobject: str,
        record_id: str,
        body: Mapping[str, Any],
        *,
        user_id: str | None = None,
        forbidden: Iterable[str] = (),
    ) -> None:
        obj = self._writable(sobject, "update")
        existing = self._existing(obj.name, record_id)
        values = validate_write(self, obj, dict(body), existing=existing, forbidden=forbidden)
        self._apply_update(obj.name, existing, values, user_id or self.default_user_id)

    def delete(self, sobject: str, record_id: str, *, user_id: str | None = None) -> None:
        obj = self._writable(sobject, "delete")
        existing = self._existing(obj.name, record_id)
        self._delete(obj.name, existing, user_id or self.default_user_id)

    def merge(
        self, sobject: str, master_id: str, victim_ids: list[str], *, user_id: str | None = None
    ) -> MergeResult:
        """SOAP merge() / Apex Database.merge: see emulator/merge.py."""
        obj = self._writable(sobject, "delete")
        return merge_records(
            self, obj.name, master_id, victim_ids, user_id=user_id or self.default_user_id
        )

    def _writable(self, sobject: str, action: str) -> Any:
        obj = self.schema.get(sobject)
        if obj is None or not obj.data_api:
            raise not_found()
        allowed = {"create": obj.createable, "update": obj.updateable, "delete": obj.deletable}
        if not allowed[action]:
            # [src: SALESFORCE.md §9 INSUFFICIENT_ACCESS_OR_READONLY recorded body]
            raise ApiError.one(400, "INSUFFICIENT_ACCESS_OR_READONLY", "entity is read-only")
        return obj

    def _existing(self, sobject: str, record_id: str) -> Record:
        record = self.stored(sobject, record_id)
        if record is None:
            raise not_found()
        if record.get("IsDeleted"):
            # [src: SALESFORCE.md §9 ENTITY_IS_DELETED recorded body]
            raise ApiError.one(404, "ENTITY_IS_DELETED", "entity is deleted", [])
        return record

    # --- writing (trusted values) --------------------------------------------------------

    def insert(
        self,
        sobject: str,
        values: Mapping[str, Any],
        *,
        user_id: str,
        record_id: str | None = None,
    ) -> str:
        """Store a new record from already-valid ``values``; fills the Id (unless
        given: the org's own seeded records), defaults, audit fields and derived
        fields."""
        obj = self.schema.objects[sobject]
        self._lock_rows(values)
        record: Record = {name: None for name in obj.fields}
        for item in obj.fields.values():
            if item.type == "boolean":
                record[item.name] = bool(item.default_value)
            elif item.type == "picklist" and item.defaulted_on_create:
                record[item.name] = item.picklist_default()
        record.update(values)
        record_id = record_id or self.state.ids.new(obj.key_prefix)
        now = self.now()
        record.update(
            Id=record_id,
            IsDeleted=False,
            CreatedDate=now,
            CreatedById=user_id,
            LastModifiedDate=now,
            LastModifiedById=user_id,
            SystemModstamp=now,
        )
        if "OwnerId" in obj.fields and record.get("OwnerId") is None:
            record["OwnerId"] = user_id
        self._derive(sobject, record, None, now)
        comment = record.pop("Comments", None) if sobject == "Case" else None
        if sobject == "Case":
            record["Comments"] = None
        self._put(sobject, record_id, record)
        self._notify(Change(sobject, record_id, None, record, user_id))
        if comment:
            self._add_internal_comment(record_id, comment, user_id)
        return record_id

    def _apply_update(
        self, sobject: str, existing: Record, values: Mapping[str, Any], user_id: str
    ) -> None:
        self._lock_rows(values, existing)
        now = self.now()
        record = {**existing, **values}
        record.update(LastModifiedDate=now, LastModifiedById=user_id, SystemModstamp=now)
        self._derive(sobject, record, existing, now)
        comment = record.get("Comments") if sobject == "Case" else None
        if sobject == "Case":
            record["Comments"] = None
        self._put(sobject, record["Id"], record)
        self._notify(Change(sobject, record["Id"], existing, record, user_id))
        if comment:
            self._add_internal_comment(record["Id"], comment, user_id)

    def _lock_rows(self, values: Mapping[str, Any], existing: Record | None = None) -> None:
        """Fail the save when it needs a row another transaction holds (the
        record itself, or one it looks up to): see ``FaultConfig.locked_records``."""
        locked = self.faults.locked_records
        if not locked:
            return
        rows = {v for v in values.values() if isinstance(v, str)}
        if existing is not None:
            rows.add(str(existing["Id"]))
        if rows & locked:
            # [src: SALESFORCE.md §2 UNABLE_TO_LOCK_ROW message]
            raise ApiError.one(
                400, "UNABLE_TO_LOCK_ROW", "unable to obtain exclusive access to this record", []
            )

    def _add_internal_comment(self, case_id: str, body: str, user_id: str) -> None:
        # Case.Comments ("Internal Comments") adds a private CaseComment.
        # [src: sfFieldRef salesforce_field_reference_Case.htm, Comments]
        self.insert(
            "CaseComment",
            {"ParentId": case_id, "CommentBody": body, "IsPublished": False},
            user_id=user_id,
        )

    def _delete(
        self,
        sobject: str,
        existing: Record,
        user_id: str,
        *,
        master_record_id: str | None = None,
        cascaded: bool = False,
    ) -> None:
        """Delete (to the Recycle Bin); ``master_record_id`` names the winner when the
        record lost a merge (see emulator/merge.py). Records deleted by the cascade
        fire no trigger, so listeners don't hear them: "Cascading delete operations.
        Records that did not initiate a delete don't cause trigger evaluation."
        [src: apexcode apex_triggers_ignoring_operations.htm]"""
        now = self.now()
        deleted = {**existing, "IsDeleted": True, "SystemModstamp": now}
        if master_record_id is not None:
            deleted["MasterRecordId"] = master_record_id
        self._put(sobject, existing["Id"], deleted)
        if not cascaded:
            self._notify(Change(sobject, existing["Id"], existing, deleted, user_id))
        schema_obj = self.schema.objects[sobject]
        for relation in schema_obj.child_relationships:
            for child in list(self.records.get(relation.child_sobject, {}).values()):
                if child.get(relation.field) != existing["Id"] or child.get("IsDeleted"):
                    continue
                if relation.cascade_delete:
                    self._delete(relation.child_sobject, child, user_id, cascaded=True)
                else:
                    # A lookup to a deleted record is cleared.
                    self._put(
                        relation.child_sobject,
                        child["Id"],
                        {**child, relation.field: None, "SystemModstamp": now},
                    )

    def _derive(self, sobject: str, record: Record, before: Record | None, now: str) -> None:
        """Fields the platform computes from others."""
        if sobject == "Case":
            self._derive_case(record, before, now)
        elif sobject in {"Contact", "User"}:
            parts = [record.get("FirstName"), record.get("LastName")]
            record["Name"] = " ".join(part for part in parts if part) or None

    def _derive_case(self, record: Record, before: Record | None, now: str) -> None:
        if before is None:
            record["CaseNumber"] = str(self._case_number).zfill(CASE_NUMBER_DIGITS)
            self._case_number += 1
        # IsClosed follows the CaseStatus of the Status value; ClosedDate is set when
        # the case closes and cleared when it reopens.
        # [src: object_reference sforce_api_objects_case.htm IsClosed, ClosedDate]
        closed = self.status_is_closed(record.get("Status"))
        record["IsClosed"] = closed
        if before is None:
            record["IsClosedOnCreate"] = closed
            record["ClosedDate"] = now if closed else None
        elif closed and not before.get("IsClosed"):
            record["ClosedDate"] = now
        elif not closed:
            record["ClosedDate"] = None
        contact = self.live("Contact", record["ContactId"]) if record.get("ContactId") else None
        record["ContactEmail"] = contact.get("Email") if contact else None
        record["ContactPhone"] = contact.get("Phone") if contact else None
        record["ContactMobile"] = contact.get("MobilePhone") if contact else None
        record["ContactFax"] = None

    def status_is_closed(self, status: Any) -> bool:
        return any(name == status and closed for name, closed in self.seed.case_statuses)

    # --- the journal behind snapshot/restore ---------------------------------------------

    def _put(self, sobject: str, record_id: str, record: Record | None) -> None:
        """The one place records change: keeps the lookup indexes and every live
        snapshot's journal up to date."""
        table = self.records[sobject]
        previous = table.get(record_id)
        for journal in self._journals:
            journal.undo.append((sobject, record_id, previous))
        self._reindex(sobject, record_id, previous, record)
        if record is None:
            table.pop(record_id, None)
        else:
            table[record_id] = record

    def _notify(self, change: Change) -> None:
        for listener in list(self.listeners):
            listener(change)

    def _build_indexes(self) -> None:
        """Live records by value for the fields records are looked up by (external
        IDs, unique fields): upserts and uniqueness checks stay fast on big orgs."""
        self._indexes = {}
        for obj in self.schema.objects.values():
            for item in obj.fields.values():
                if item.name != "Id" and (item.external_id or item.unique or item.id_lookup):
                    self._indexes[(obj.name, item.name)] = {}

    def _reindex(
        self, sobject: str, record_id: str, before: Record | None, after: Record | None
    ) -> None:
        obj = self.schema.objects[sobject]
        for (indexed_object, name), index in self._indexes.items():
            if indexed_object != sobject:
                continue
            item = obj.fields[name]
            fold = item.is_text and not item.case_sensitive
            for record, adding in ((before, False), (after, True)):
                if record is None or record.get("IsDeleted") or record.get(name) is None:
                    continue
                key = _normalise(item, record[name], fold)
                ids = index.setdefault(key, {})
                if adding:
                    ids[record_id] = None
                else:
                    ids.pop(record_id, None)
                    if not ids:
                        del index[key]

    def snapshot(self) -> Snapshot:
        """A point to roll back to with :meth:`restore` (composite allOrNone, graphs,
        trees). Cheap: changes are journalled while the snapshot is referenced."""
        snap = Snapshot(case_number=self._case_number)
        self._journals.add(snap)
        return snap

    def restore(self, snapshot: object) -> None:
        """Undo every record change since ``snapshot`` and rewind the sequences."""
        if not isinstance(snapshot, Snapshot) or snapshot not in self._journals:
            raise ValueError("not a live snapshot of this org")
        undo = list(snapshot.undo)
        for sobject, record_id, previous in reversed(undo):
            current = self.records[sobject].get(record_id)
            self._put(sobject, record_id, previous)
            self._notify(Change(sobject, record_id, current, previous, None, undone=True))
        snapshot.undo.clear()
        self._case_number = snapshot.case_number


def _normalise(item: FieldDef, value: Any, fold: bool) -> Any:
    if isinstance(value, str):
        return value.casefold() if fold else value
    if item.is_text:
        return str(value).casefold() if fold else str(value)
    return value



