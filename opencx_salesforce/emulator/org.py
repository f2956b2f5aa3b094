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

from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import TYPE_CHECKING, Any

from opencx_salesforce.emulator.api_usage import ApiUsage
from opencx_salesforce.emulator.datetimes import format_datetime
from opencx_salesforce.emulator.faults import FaultConfig
from opencx_salesforce.emulator.ids import is_valid_id, to18
from opencx_salesforce.emulator.merge import MergeResult
from opencx_salesforce.emulator.merge import merge as merge_records
from opencx_salesforce.emulator.org_changes import Change, Journals, Snapshot
from opencx_salesforce.emulator.org_derived import CaseNumbers, derive
from opencx_salesforce.emulator.org_indexes import LookupIndexes, normalise
from opencx_salesforce.emulator.org_metadata import ToolingMetadata
from opencx_salesforce.emulator.org_seed import seed_records
from opencx_salesforce.emulator.rest.errors import ApiError, not_found
from opencx_salesforce.emulator.schema import FieldDef, FieldMap, Schema, build_schema
from opencx_salesforce.emulator.soql_view import SoqlView
from opencx_salesforce.emulator.validation import validate_write

if TYPE_CHECKING:
    from opencx_salesforce.emulator.rest.dispatch import Route
    from opencx_salesforce.emulator.state import EmulatorState, OrgIdentity

Record = dict[str, Any]


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
        self.case_numbers = CaseNumbers()
        self._journals = Journals()
        self._indexes = LookupIndexes(self.schema)
        self.metadata = ToolingMetadata(self)
        self.tooling = SoqlView(self, tooling=True)
        self.data = SoqlView(self, tooling=False)
        self.automated_process_user_id = ""
        self.automated_process_user_id = seed_records(self)

    def add_custom_field(self, sobject: str, item: FieldDef) -> None:
        """A custom field deployed onto ``sobject`` (a package deploy); describe
        shows it from now on. One already there is left as it is."""
        obj = self.schema.objects[sobject]
        if obj.fields.get(item.name) is None:
            obj.fields = FieldMap([*obj.fields.values(), item])
            self.schema_modified = self.state.clock.now()

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
        ids = self._indexes.ids(sobject, item, value)
        if ids is not None:
            table = self.records[sobject]
            return [table[record_id] for record_id in ids]
        wanted = normalise(item, value)
        return [
            record
            for record in self.records[sobject].values()
            if not record.get("IsDeleted")
            and record.get(item.name) is not None
            and normalise(item, record[item.name]) == wanted
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
        derive(self, sobject, record, None, now)
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
        derive(self, sobject, record, existing, now)
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

    # --- the journal behind snapshot/restore ---------------------------------------------

    def _put(self, sobject: str, record_id: str, record: Record | None) -> None:
        """The one place records change: keeps the lookup indexes and every live
        snapshot's journal up to date."""
        table = self.records[sobject]
        previous = table.get(record_id)
        self._journals.record(sobject, record_id, previous)
        self._indexes.reindex(sobject, record_id, previous, record)
        if record is None:
            table.pop(record_id, None)
        else:
            table[record_id] = record

    def _notify(self, change: Change) -> None:
        for listener in list(self.listeners):
            listener(change)

    def snapshot(self) -> Snapshot:
        """A point to roll back to with :meth:`restore` (composite allOrNone, graphs,
        trees). Cheap: changes are journalled while the snapshot is referenced."""
        return self._journals.open(self.case_numbers.next_value)

    def restore(self, snapshot: object) -> None:
        """Undo every record change since ``snapshot`` and rewind the sequences."""
        snap = self._journals.live(snapshot)
        undo = list(snap.undo)
        for sobject, record_id, previous in reversed(undo):
            current = self.records[sobject].get(record_id)
            self._put(sobject, record_id, previous)
            self._notify(Change(sobject, record_id, current, previous, None, undone=True))
        snap.undo.clear()
        self.case_numbers.next_value = snap.case_number
