"""What an org offers that decides the package's shape, read from its describe.

EmailMessage "is only available for orgs that use Email-to-Case or Enhanced Email"
[src: object_reference sforce_api_objects_emailmessage.htm "Special Access Rules"],
and Apex naming a missing object does not compile, so a package for an org without
it is generated with ``include_email=False`` (``opencx-salesforce apex --no-email``).

The Describe Global resource (``GET /services/data/vXX.X/sobjects/``) lists "the
objects available in your org and available to the logged-in user": ``{"encoding",
"maxBatchSize", "sobjects": [{"name": ..., ...}]}``. [src: api_rest
dome_describeGlobal.htm] An object hidden from the user who asks is missing from the
list too, so ``doctor`` should ask as the admin who deploys, or say so.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any, Final

EMAIL_MESSAGE: Final = "EmailMessage"


def org_has_email_message(describe_global_json: Mapping[str, Any] | str | bytes) -> bool:
    """Whether a Describe Global answer (parsed, or its raw JSON text) lists the
    EmailMessage object. Raises ValueError for something that is not a Describe
    Global answer."""
    return EMAIL_MESSAGE in _object_names(describe_global_json)


def _object_names(describe_global_json: Mapping[str, Any] | str | bytes) -> set[str]:
    data: Any = describe_global_json
    if isinstance(data, (str, bytes)):
        try:
            data = json.loads(data)
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise ValueError(f"not a Describe Global answer: {exc}") from None
    sobjects = data.get("sobjects") if isinstance(data, Mapping) else None
    if not isinstance(sobjects, list):
        raise ValueError("not a Describe Global answer: no 'sobjects' list")
    return {
        str(item["name"])
        for item in sobjects
        if isinstance(item, Mapping) and isinstance(item.get("name"), str)
    }
