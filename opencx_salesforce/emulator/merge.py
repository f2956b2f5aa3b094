"""Merging records, as SOAP ``merge()`` and Apex ``Database.merge`` do; REST has no
merge resource, so the emulator offers it as a rep action.

"merge() deletes the other records, known as the victim records. If a victim record
has related records, merge() makes the main record the new parent of the related
records." Up to three records, the main one included, of one object type.
[src: api sforce_api_calls_merge.htm]

Triggers: "A single merge operation fires a single delete event for all records that
are deleted in the merge [...] When a record is deleted after losing a merge
operation, its MasterRecordId field is set to the ID of the winning record [...]
A single merge operation fires a single update event for the winning record only.
Any child records that are reparented as a result of the merge operation do not fire
triggers." Order: the system deletes the losing records, reparents their children
and sets MasterRecordId; the after delete trigger fires; then the winner is updated.
[src: apexcode apex_triggers_merge_statements.htm]

Objects: the emulator merges the objects whose schema has ``MasterRecordId`` (here,
Case). UNCONFIRMED: the merge() page of older API versions names only Lead, Contact
and Account; Salesforce's "Merge Cases" and MasterRecordId on Case say Cases merge too.
Error codes for a bad request are UNCONFIRMED (the docs name none).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Final

from opencx_salesforce.emulator.ids import is_valid_id, to18
from opencx_salesforce.emulator.rest.errors import ApiError

if TYPE_CHECKING:
    from opencx_salesforce.emulator.org import Org, Record

MASTER_FIELD: Final = "MasterRecordId"
# "Up to three records can be merged in a single request, including the master
# record." [src: api sforce_api_calls_merge.htm]
MAX_VICTIMS: Final = 2


@dataclass(frozen=True)
class MergeResult:
    """SOAP's MergeResult: the winner, the merged (deleted) records, the children
    that moved."""

    id: str
    merged_record_ids: list[str]
    updated_related_ids: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, object]:
        return {
            "id": self.id,
            "mergedRecordIds": list(self.merged_record_ids),
            "updatedRelatedIds": list(self.updated_related_ids),
            "success": True,
            "errors": [],
        }


def merge(
    org: Org, sobject: str, master_id: str, victim_ids: list[str], *, user_id: str
) -> MergeResult:
    """Merge ``victim_ids`` into ``master_id``; raises ApiError when the request
    can't be done (nothing is changed then)."""
    obj = org.schema.get(sobject)
    if obj is None or MASTER_FIELD not in obj.fields:
        raise ApiError.one(400, "INVALID_TYPE", f"sObject type '{sobject}' can't be merged")
    if not 1 <= len(victim_ids) <= MAX_VICTIMS:
        raise ApiError.one(
            400, "INVALID_OPERATION", "merge takes one or two records besides the master"
        )
    master = _live(org, obj.name, master_id)
    victims = [_live(org, obj.name, victim_id) for victim_id in victim_ids]
    ids = [master["Id"], *(victim["Id"] for victim in victims)]
    if len(set(ids)) != len(ids):
        raise ApiError.one(400, "INVALID_ID_FIELD", "a record can't be merged into itself")
    moved: list[str] = []
    for victim in victims:
        moved += _reparent_children(org, obj.name, victim["Id"], master["Id"])
    now_victims = [org.stored(obj.name, victim["Id"]) or victim for victim in victims]
    for victim in now_victims:
        org._delete(obj.name, victim, user_id, master_record_id=master["Id"])
    org._apply_update(obj.name, org.stored(obj.name, master["Id"]) or master, {}, user_id)
    return MergeResult(master["Id"], [victim["Id"] for victim in victims], moved)


def _live(org: Org, sobject: str, record_id: str) -> Record:
    if not isinstance(record_id, str) or not is_valid_id(record_id):
        raise ApiError.one(400, "MALFORMED_ID", f"malformed id {record_id}")
    return org._existing(sobject, to18(record_id))


def _reparent_children(org: Org, sobject: str, victim_id: str, master_id: str) -> list[str]:
    """Point the victim's related records at the winner, firing no trigger."""
    now = org.now()
    moved: list[str] = []
    for relation in org.schema.objects[sobject].child_relationships:
        if relation.field == MASTER_FIELD:
            continue
        table = org.records.get(relation.child_sobject, {})
        for child in list(table.values()):
            if child.get(relation.field) != victim_id or child.get("IsDeleted"):
                continue
            if relation.child_sobject == sobject and child["Id"] == master_id:
                continue  # the winner itself (its ParentId named the loser): left as is
            org._put(
                relation.child_sobject,
                child["Id"],
                {**child, relation.field: master_id, "SystemModstamp": now},
            )
            moved.append(child["Id"])
    return moved
