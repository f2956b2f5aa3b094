"""Which EmailMessage fields an update may change, by the record's Status.

The object reference: "update() is supported when an email record is in Draft
status [...]. When the email record isn't in Draft status, the IsExternallyVisible
field and custom fields only can be updated", and "The Status field is mostly
read-only. You can change the status only from New to Read."
[src: object_reference sforce_api_objects_emailmessage.htm "Special Access Rules"]

So a draft (Status '5') is updatable, Status included: that is how a draft becomes
a sent email ('3'). A sent email is not editable. The error for a refused field is
the one for any field the user may not update (INVALID_FIELD_FOR_INSERT_UPDATE):
UNCONFIRMED, the docs name no error code. IsPrivateDraft (a draft only its creator
may update) is not modelled.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from opencx_salesforce.emulator.schema import FieldDef

STATUS_NEW: Final = "0"
STATUS_READ: Final = "1"
STATUS_SENT: Final = "3"
STATUS_DRAFT: Final = "5"

# Updatable on an EmailMessage that is no longer a draft (besides custom fields).
_ALWAYS_UPDATABLE: Final = frozenset({"IsExternallyVisible"})


def update_allowed(sobject: str, item: FieldDef, existing: Mapping[str, Any], value: Any) -> bool:
    """Whether an update may set ``item`` to ``value`` on ``existing`` (fields the
    schema marks updateable; this only narrows them)."""
    if sobject != "EmailMessage" or existing.get("Status") == STATUS_DRAFT:
        return True
    if item.custom or item.name in _ALWAYS_UPDATABLE:
        return True
    if item.name == "Status":
        before = existing.get("Status")
        # UNCONFIRMED: re-sending the current value is accepted as no change.
        return value == before or (before == STATUS_NEW and value == STATUS_READ)
    return bool(value == existing.get(item.name))  # UNCONFIRMED: an unchanged value passes
