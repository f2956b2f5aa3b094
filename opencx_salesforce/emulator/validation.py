"""Checking a record's field values the way Salesforce's save does, in its order:

1. deserialising the JSON body: unknown fields (INVALID_FIELD) and values of the
   wrong JSON type (JSON_PARSER_ERROR);
2. field access: fields that can't be created or updated
   (INVALID_FIELD_FOR_INSERT_UPDATE);
3. values: lengths (STRING_TOO_LONG), restricted picklists, e-mail addresses,
   lookups (MALFORMED_ID, FIELD_INTEGRITY_EXCEPTION, INVALID_CROSS_REFERENCE_KEY,
   ENTITY_IS_DELETED);
4. required fields (REQUIRED_FIELD_MISSING);
5. unique fields (DUPLICATE_VALUE).

Every failure is an :class:`ApiError` with HTTP 400 and the documented body.
[src: api_rest errorcodes.htm; SALESFORCE.md §2 and §9 for the message formats]
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from datetime import UTC, date, datetime
from typing import TYPE_CHECKING, Any

from opencx_salesforce.emulator.email_rules import update_allowed
from opencx_salesforce.emulator.ids import is_valid_id, to18
from opencx_salesforce.emulator.rest.errors import ApiError, error_item
from opencx_salesforce.emulator.schema import FieldDef, SObjectDef

if TYPE_CHECKING:
    from opencx_salesforce.emulator.org import Org

SF_DATETIME = "%Y-%m-%dT%H:%M:%S"


def format_datetime(moment: datetime) -> str:
    """Salesforce's JSON dateTime: ``2013-05-20T20:49:32.000+0000`` (UTC).
    [src: SALESFORCE.md §5 returned dateTime format]"""
    moment = moment.astimezone(UTC)
    return f"{moment.strftime(SF_DATETIME)}.{moment.microsecond // 1000:03d}+0000"


_DATETIME_INPUT = re.compile(
    r"^(?P<date>\d{4}-\d{2}-\d{2})[T ](?P<time>\d{2}:\d{2}(?::\d{2}(?:\.\d{1,9})?)?)"
    r"(?P<tz>Z|[+-]\d{2}:?\d{2})?$"
)


def parse_datetime(text: str) -> datetime | None:
    """An ISO-8601 dateTime as the API accepts it (``Z``, ``+0000`` or ``+00:00``;
    no zone means UTC), or None."""
    matched = _DATETIME_INPUT.match(text.strip())
    if matched is None:
        return None
    zone = matched["tz"] or "Z"
    if zone == "Z":
        zone = "+00:00"
    elif ":" not in zone:
        zone = f"{zone[:3]}:{zone[3:]}"
    clock = matched["time"]
    if clock.count(":") == 1:
        clock += ":00"
    if "." in clock:
        whole, fraction = clock.split(".")
        clock = f"{whole}.{fraction[:6].ljust(6, '0')}"
    try:
        return datetime.fromisoformat(f"{matched['date']}T{clock}{zone}")
    except ValueError:
        return None


# A practical e-mail check: something@domain.tld without spaces.
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


class _Located:
    """Finds where a field's value sits in the request body, for the
    ``at [line:1, column:N]`` suffix of Salesforce's JSON_PARSER_ERROR messages
    (positions are in the compact re-serialised body)."""

    def __init__(self, body: Mapping[str, Any]) -> None:
        self._text = json.dumps(body, ensure_ascii=False, separators=(",", ":"))

    def column(self, key: str) -> int:
        marker = json.dumps(key, ensure_ascii=False) + ":"
        position = self._text.find(marker)
        return position + len(marker) + 1 if position >= 0 else 1


def _token(value: Any) -> tuple[str, str]:
    """Jackson's token name for a JSON value, and how it prints it."""
    if isinstance(value, bool):
        return ("VALUE_TRUE" if value else "VALUE_FALSE"), json.dumps(value)
    if isinstance(value, int):
        return "VALUE_NUMBER_INT", str(value)
    if isinstance(value, float):
        return "VALUE_NUMBER_FLOAT", repr(value)
    if isinstance(value, str):
        return "VALUE_STRING", value
    if isinstance(value, list):
        return "START_ARRAY", "["
    return "START_OBJECT", "{"


def _parser_error(type_name: str, value: Any, column: int) -> ApiError:
    # e.g. "Cannot deserialize instance of boolean from VALUE_STRING value FALSE or
    # request may be missing a required field at [line:1, column:17]"
    # [src: JSON_PARSER_ERROR text recorded from real orgs (public code)]
    token, shown = _token(value)
    return ApiError.one(
        400,
        "JSON_PARSER_ERROR",
        f"Cannot deserialize instance of {type_name} from {token} value {shown} "
        f"or request may be missing a required field at [line:1, column:{column}]",
    )


def _coerce(item: FieldDef, value: Any, column: int) -> Any:
    """The stored (JSON-ready) form of ``value`` for ``item``, or JSON_PARSER_ERROR."""
    if value is None:
        # A null for a primitive boolean deserialises to false.
        return False if item.type == "boolean" else None
    kind = item.type
    if kind == "boolean":
        if isinstance(value, bool):
            return value
        raise _parser_error("boolean", value, column)
    if kind in {"double", "int", "currency", "percent"}:
        type_name = "int" if kind == "int" else "double"
        if isinstance(value, (bool, list, dict)):
            raise _parser_error(type_name, value, column)
        try:
            number = float(value)
        except (TypeError, ValueError):
            raise _parser_error(type_name, value, column) from None
        if kind == "int":
            if not number.is_integer():
                raise _parser_error(type_name, value, column)
            return int(number)
        return number
    if kind == "datetime":
        parsed = parse_datetime(value) if isinstance(value, str) else None
        if parsed is None:
            raise _parser_error("datetime", value, column)
        return format_datetime(parsed)
    if kind == "date":
        if isinstance(value, str):
            try:
                return date.fromisoformat(value[:10]).isoformat()
            except ValueError:
                pass
        raise _parser_error("date", value, column)
    # Text-like and Id fields: scalars are read as their text.
    if isinstance(value, (list, dict)):
        raise _parser_error("string", value, column)
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _text_size(item: FieldDef, text: str) -> int:
    """A text value's size as Salesforce checks it against the field's length: UTF-8
    bytes for the fields limited in bytes (CaseComment.CommentBody), else Java
    ``char`` s, i.e. UTF-16 code units, so a character outside the BMP (an emoji)
    counts 2. [src: help.salesforce.com article 005166849 "Surrogate Pair Characters
    Are Treated as Two Characters" (LEN("𠮟") = 2, "also observed in the String
    class"); SALESFORCE.md §6 "Safe rule"]"""
    if item.limit_in_bytes:
        return len(text.encode("utf-8", "surrogatepass"))
    return len(text.encode("utf-16-le", "surrogatepass")) // 2


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


def _check_value(org: Org, item: FieldDef, value: Any) -> tuple[dict[str, Any] | None, Any]:
    if value is None or (value == "" and item.type == "reference"):
        # An empty lookup clears it.
        return None, None
    if item.type == "reference":
        return check_reference(org, item, value)
    if item.is_text and isinstance(value, str):
        if item.length and _text_size(item, value) > item.length:
            # "<Field Label>: data value too large: <value> (max length=<n>)"
            # [src: SALESFORCE.md §9 STRING_TOO_LONG, recorded response]
            message = f"{item.label}: data value too large: {value} (max length={item.length})"
            return error_item("STRING_TOO_LONG", message, [item.name]), value
        if item.type == "picklist" and item.restricted_picklist:
            allowed = {option.value for option in item.picklist_values if option.active}
            if value not in allowed:
                message = f"{item.label}: bad value for restricted picklist field: {value}"
                return (
                    error_item("INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST", message, [item.name]),
                    value,
                )
        if item.type == "email" and value != "" and not _EMAIL.match(value):
            # [src: SALESFORCE.md §3 tree failure example "Email: invalid email address: 123"]
            message = f"{item.label}: invalid email address: {value}"
            return error_item("INVALID_EMAIL_ADDRESS", message, [item.name]), value
        if value == "":
            # Salesforce stores an empty text value as null.
            return None, None
    return None, value


def _relationship_field(obj: SObjectDef, key: str) -> FieldDef | None:
    lowered = key.lower()
    for item in obj.fields.values():
        if item.relationship_name and item.relationship_name.lower() == lowered:
            return item
    return None


def _resolve_related(org: Org, item: FieldDef, value: Any) -> str:
    """A lookup given as ``{"<ExternalIdField>": "<value>"}`` (relationship name as
    the key) becomes the Id of the one matching record.
    [src: api_rest dome_upsert.htm "upsert ... with a related object by external ID"]"""
    if not isinstance(value, dict):
        raise ApiError.one(
            400,
            "JSON_PARSER_ERROR",
            f"Cannot deserialize instance of {item.reference_to[0]} from {_token(value)[0]}",
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


def reject_fields(body: Any, names: Iterable[str]) -> None:
    """INVALID_FIELD when ``body`` carries one of ``names`` (Id, or an upsert's
    external-ID field). [src: api_rest dome_sobject_create.htm error example;
    dome_upsert.htm "Do not specify Id or an external ID field in the request body"]"""
    if not isinstance(body, dict):
        return
    wanted = {name.lower(): name for name in names}
    for key in body:
        if key.lower() in wanted:
            raise ApiError.one(
                400,
                "INVALID_FIELD",
                f"The {wanted[key.lower()]} field should not be specified in the sobject data.",
            )


def validate_write(
    org: Org,
    obj: SObjectDef,
    body: Any,
    *,
    existing: Mapping[str, Any] | None = None,
    forbidden: Iterable[str] = (),
) -> dict[str, Any]:
    """Check ``body`` for a create (``existing`` None) or an update of
    ``existing``; returns the values to store under canonical field names.

    ``forbidden`` names fields the body must not carry, beyond Id (an upsert's
    external-ID field). [src: api_rest dome_upsert.htm "Do not specify Id or an
    external ID field in the request body"]
    """
    creating = existing is None
    if not isinstance(body, dict):
        raise _parser_error(obj.name, body, 1)
    reject_fields(body, ["Id", *forbidden])
    located = _Located(body)
    values: dict[str, Any] = {}
    no_access: list[str] = []
    for key, raw in body.items():
        if key == "attributes":
            continue
        item = obj.field(key)
        if item is None:
            related = _relationship_field(obj, key)
            if related is None:
                # [src: recorded REST responses (public code): "No such column 'x'
                #  on sobject of type Account", errorCode INVALID_FIELD]
                raise ApiError.one(
                    400,
                    "INVALID_FIELD",
                    f"No such column '{key}' on sobject of type {obj.name}",
                )
            values[related.name] = _resolve_related(org, related, raw)
            item = related
        else:
            values[item.name] = _coerce(item, raw, located.column(key))
        allowed = item.createable if creating else item.updateable
        if allowed and existing is not None:
            allowed = update_allowed(obj.name, item, existing, values[item.name])
        if not allowed:
            no_access.append(item.name)
    if no_access:
        # [src: recorded REST responses (public code), errorCode
        #  INVALID_FIELD_FOR_INSERT_UPDATE with this message]
        raise ApiError.one(
            400,
            "INVALID_FIELD_FOR_INSERT_UPDATE",
            f"Unable to create/update fields: {', '.join(no_access)}. Please check the "
            "security settings of this field and verify that it is read/write for your "
            "profile or permission set.",
            no_access,
        )
    errors: list[dict[str, Any]] = []
    for name in list(values):
        error, normalised = _check_value(org, obj.fields[name], values[name])
        if error is not None:
            errors.append(error)
        values[name] = normalised
    if errors:
        raise ApiError(400, errors)
    _check_required(obj, values, creating=creating)
    _check_unique(org, obj, values, existing)
    return values


def _check_required(obj: SObjectDef, values: Mapping[str, Any], *, creating: bool) -> None:
    missing: list[str] = []
    for item in obj.fields.values():
        if item.nillable or item.type == "boolean":
            continue
        if not (item.createable or item.updateable):
            continue
        if creating:
            # A defaulted field is filled in by the platform when absent, not when
            # sent as null.
            if values.get(item.name) is None and (
                item.name in values or not item.defaulted_on_create
            ):
                missing.append(item.name)
        elif item.name in values and values[item.name] is None:
            missing.append(item.name)
    if missing:
        # [src: SALESFORCE.md §9 REQUIRED_FIELD_MISSING recorded body]
        raise ApiError.one(
            400,
            "REQUIRED_FIELD_MISSING",
            f"Required fields are missing: [{', '.join(missing)}]",
            missing,
        )


def _check_unique(
    org: Org,
    obj: SObjectDef,
    values: Mapping[str, Any],
    existing: Mapping[str, Any] | None,
) -> None:
    own_id = existing["Id"] if existing is not None else None
    for name, value in values.items():
        item = obj.fields[name]
        if not item.unique or value is None:
            continue
        for match in org.find_by_field(obj.name, name, value):
            if match["Id"] != own_id:
                # "duplicate value found: <field> duplicates value on record with id: <id>"
                # [src: SALESFORCE.md §2 common message formats]
                raise ApiError.one(
                    400,
                    "DUPLICATE_VALUE",
                    f"duplicate value found: {name} duplicates value on record with id: "
                    f"{match['Id']}",
                    [name],
                )
