"""Checking a lookup value when a record is saved: an Id (MALFORMED_ID,
FIELD_INTEGRITY_EXCEPTION, INVALID_CROSS_REFERENCE_KEY, ENTITY_IS_DELETED), or a
related record named by external ID under the relationship name."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from opencx_salesforce.emulator.deserialise import json_token
from opencx_salesforce.emulator.ids import is_valid_id, to18
from opencx_salesforce.emulator.rest.errors import ApiError, error_item
from opencx_salesforce.emulator.schema import FieldDef, SObjectDef

if TYPE_CHECKING:
    from opencx_salesforce.emulator.org import Org


def _id_label(item: FieldDef) -> str:
    return item.label


def check_reference(org: Org, item: FieldDef, value: str) -> tuple[dict[str, Any] | None, str]:
    """``(error or None, normalised 18-character Id)`` for a lookup value.

    Not an Id at all → MALFORMED_ID; an Id of another object → FIELD_INTEGRITY_EXCEPTION;
    a deleted record → ENTITY_IS_DELETED; no such record → INVALID_CROSS_REFERENCE_KEY.
    [src: salto.io "Demystifying 'Invalid Cross Reference Id'" (tests against a real
    org: "NotReal" → MALFORMED_ID, an Opportunity Id in AccountId →
    FIELD_INTEGRITY_EXCEPTION); message "Account ID: id value of incorrect type: <id>"
    from recorded responses (public code); "invalid cross reference id" likewise]
    """
    if not is_valid_id(value):
        message = f"{_id_label(item)}: id value of incorrect type: {value}"
        return error_item("MALFORMED_ID", message, [item.name]), value
    record_id = to18(value)
    target = org.schema.object_of_id(record_id)
    if target is None or target not in item.reference_to:
        message = f"{_id_label(item)}: id value of incorrect type: {value}"
        return error_item("FIELD_INTEGRITY_EXCEPTION", message, [item.name]), record_id
    record = org.stored(target, record_id)
    if record is None:
        return (
            error_item("INVALID_CROSS_REFERENCE_KEY", "invalid cross reference id", [item.name]),
            record_id,
        )
    if record.get("IsDeleted"):
        return error_item("ENTITY_IS_DELETED", "entity is deleted", [item.name]), record_id
    return None, record_id


def relationship_field(obj: SObjectDef, key: str) -> FieldDef | None:
    lowered = key.lower()
    for item in obj.fields.values():
        if item.relationship_name and item.relationship_name.lower() == lowered:
            return item
    return None


def resolve_related(org: Org, item: FieldDef, value: Any) -> str:
    """A lookup given as ``{"<ExternalIdField>": "<value>"}`` (relationship name as
    the key) becomes the Id of the one matching record.
    [src: api_rest dome_upsert.htm "upsert ... with a related object by external ID"]"""
    if not isinstance(value, dict):
        raise ApiError.one(
            400,
            "JSON_PARSER_ERROR",
            f"Cannot deserialize instance of {item.reference_to[0]} from {json_token(value)[0]}",
        )
    keys = [key for key in value if key != "attributes"]
    target_name = item.reference_to[0]
    if isinstance(value.get("attributes"), dict) and "type" in value["attributes"]:
        target_name = str(value["attributes"]["type"])
    target = org.schema.get(target_name)
    if target is None or len(keys) != 1:
        raise ApiError.one(
            400,
            "INVALID_FIELD",
            f"Foreign key external ID: {value} not found for field {item.name} "
            f"in entity {target_name}",
        )
    ext_field = target.field(keys[0])
    if ext_field is None or not ext_field.id_lookup:
        raise ApiError.one(
            400,
            "INVALID_FIELD",
            f"No such column '{keys[0]}' on sobject of type {target.name}",
        )
    matches = org.find_by_field(target.name, ext_field.name, value[keys[0]])
    if len(matches) != 1:
        # [src: Salesforce's wording for a missing/ambiguous related external ID,
        #  "Foreign key external ID: <v> not found for field <f> in entity <o>"]
        if not matches:
            raise ApiError.one(
                400,
                "INVALID_FIELD",
                f"Foreign key external ID: {value[keys[0]]} not found for field "
                f"{ext_field.name} in entity {target.name}",
            )
        # SOAP StatusCode DUPLICATE_EXTERNAL_ID: "The user-specified external ID
        # matches more than one record". [src: api sforce_api_calls_concepts_core_data_objects.htm]
        raise ApiError.one(
            400,
            "DUPLICATE_EXTERNAL_ID",
            f"Foreign key external ID: {value[keys[0]]} matched more than one record for "
            f"field {ext_field.name} in entity {target.name}",
        )
    return str(matches[0]["Id"])
