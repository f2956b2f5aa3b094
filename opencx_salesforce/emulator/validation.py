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

import re
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

from opencx_salesforce.emulator.deserialise import BodyColumns, coerce, parser_error
from opencx_salesforce.emulator.email_rules import update_allowed
from opencx_salesforce.emulator.related_lookups import (
    check_reference,
    relationship_field,
    resolve_related,
)
from opencx_salesforce.emulator.rest.errors import ApiError, error_item
from opencx_salesforce.emulator.schema import FieldDef, SObjectDef

if TYPE_CHECKING:
    from opencx_salesforce.emulator.org import Org

# A practical e-mail check: something@domain.tld without spaces.
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


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
        raise parser_error(obj.name, body, 1)
    reject_fields(body, ["Id", *forbidden])
    located = BodyColumns(body)
    values: dict[str, Any] = {}
    no_access: list[str] = []
    for key, raw in body.items():
        if key == "attributes":
            continue
        item = obj.field(key)
        if item is None:
            related = relationship_field(obj, key)
            if related is None:
                # [src: recorded REST responses (public code): "No such column 'x'
                #  on sobject of type Account", errorCode INVALID_FIELD]
                raise ApiError.one(
                    400,
                    "INVALID_FIELD",
                    f"No such column '{key}' on sobject of type {obj.name}",
                )
            values[related.name] = resolve_related(org, related, raw)
            item = related
        else:
            values[item.name] = coerce(item, raw, located.column(key))
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
