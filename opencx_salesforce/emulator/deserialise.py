"""The first step of a save: reading a JSON body's values into the stored
(JSON-ready) form of each field, and the JSON_PARSER_ERROR Salesforce answers
for a value of the wrong JSON type, with its ``at [line:1, column:N]`` position."""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import date
from typing import Any

from opencx_salesforce.emulator.datetimes import format_datetime, parse_datetime
from opencx_salesforce.emulator.rest.errors import ApiError
from opencx_salesforce.emulator.schema import FieldDef


class BodyColumns:
    """Finds where a field's value sits in the request body, for the
    ``at [line:1, column:N]`` suffix of Salesforce's JSON_PARSER_ERROR messages
    (positions are in the compact re-serialised body)."""

    def __init__(self, body: Mapping[str, Any]) -> None:
        self._text = json.dumps(body, ensure_ascii=False, separators=(",", ":"))

    def column(self, key: str) -> int:
        marker = json.dumps(key, ensure_ascii=False) + ":"
        position = self._text.find(marker)
        return position + len(marker) + 1 if position >= 0 else 1


def json_token(value: Any) -> tuple[str, str]:
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


def parser_error(type_name: str, value: Any, column: int) -> ApiError:
    # e.g. "Cannot deserialize instance of boolean from VALUE_STRING value FALSE or
    # request may be missing a required field at [line:1, column:17]"
    # [src: JSON_PARSER_ERROR text recorded from real orgs (public code)]
    token, shown = json_token(value)
    return ApiError.one(
        400,
        "JSON_PARSER_ERROR",
        f"Cannot deserialize instance of {type_name} from {token} value {shown} "
        f"or request may be missing a required field at [line:1, column:{column}]",
    )


def coerce(item: FieldDef, value: Any, column: int) -> Any:
    """The stored (JSON-ready) form of ``value`` for ``item``, or JSON_PARSER_ERROR."""
    if value is None:
        # A null for a primitive boolean deserialises to false.
        return False if item.type == "boolean" else None
    kind = item.type
    if kind == "boolean":
        if isinstance(value, bool):
            return value
        raise parser_error("boolean", value, column)
    if kind in {"double", "int", "currency", "percent"}:
        type_name = "int" if kind == "int" else "double"
        if isinstance(value, (bool, list, dict)):
            raise parser_error(type_name, value, column)
        try:
            number = float(value)
        except (TypeError, ValueError):
            raise parser_error(type_name, value, column) from None
        if kind == "int":
            if not number.is_integer():
                raise parser_error(type_name, value, column)
            return int(number)
        return number
    if kind == "datetime":
        parsed = parse_datetime(value) if isinstance(value, str) else None
        if parsed is None:
            raise parser_error("datetime", value, column)
        return format_datetime(parsed)
    if kind == "date":
        if isinstance(value, str):
            try:
                return date.fromisoformat(value[:10]).isoformat()
            except ValueError:
                pass
        raise parser_error("date", value, column)
    # Text-like and Id fields: scalars are read as their text.
    if isinstance(value, (list, dict)):
        raise parser_error("string", value, column)
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)
