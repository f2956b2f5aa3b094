"""The Case picklist values the plugin writes: the default Origin of each channel
and the default Priority map, how a user's ``[salesforce.origin_by_channel]`` and
``[salesforce.priority_map]`` tables merge over them, and the check every picklist
value passes. Kept apart from :mod:`.model` because they are facts about a
Salesforce org, not about how the settings are loaded.
"""

from __future__ import annotations

import types
from collections.abc import Mapping

from opencx_salesforce.models import Channel
from opencx_salesforce.settings.loader import did_you_mean

# The Origin picklist of a new org has only Phone, Email and Web
# [src: SALESFORCE.md "Default Origin: Phone, Email, Web"; object_reference
# sforce_api_objects_case.htm]. Each channel maps to the nearest of those three so
# that a Case is accepted by an org nobody has customised: SMS is a phone-number
# channel, chat and WhatsApp arrive through web widgets. Orgs with their own values
# ("Chat", "WhatsApp", ...) override single channels in [salesforce.origin_by_channel].
DEFAULT_ORIGIN_BY_CHANNEL: Mapping[str, str] = types.MappingProxyType(
    {
        "email": "Email",
        "phone": "Phone",
        "chat": "Web",
        "web": "Web",
        "sms": "Phone",
        "whatsapp": "Web",
    }
)

# A session's priority (free text set by the bot) to the Case Priority picklist;
# High, Medium and Low are the values of a new org [src: SALESFORCE.md, Case fields].
DEFAULT_PRIORITY_MAP: Mapping[str, str] = types.MappingProxyType(
    {
        "urgent": "High",
        "high": "High",
        "normal": "Medium",
        "medium": "Medium",
        "low": "Low",
    }
)

# Longest value a picklist entry may hold [src: SALESFORCE.md, Case field reference:
# picklist length 255 in newer API versions].
PICKLIST_MAX = 255


def check_picklist_value(value: str) -> str:
    """``value`` if it fits a picklist entry (``case_from_value``)."""
    if not value.strip():
        raise ValueError("expected a non-empty value such as 'opencx'")
    if len(value) > PICKLIST_MAX:
        raise ValueError(f"expected at most {PICKLIST_MAX} characters")
    return value


def check_picklist_values(value: Mapping[str, str]) -> None:
    """Raise ValueError naming the first key whose picklist value is empty or too long."""
    for key, picklist_value in value.items():
        if not picklist_value.strip():
            raise ValueError(f"{key!r}: expected a picklist value, got an empty string")
        if len(picklist_value) > PICKLIST_MAX:
            raise ValueError(f"{key!r}: expected at most {PICKLIST_MAX} characters")


def merge_origins(value: dict[str, str]) -> dict[str, str]:
    """The user's Origin per channel over :data:`DEFAULT_ORIGIN_BY_CHANNEL`."""
    known = [c.value for c in Channel]
    for channel in value:
        if channel not in known:
            raise ValueError(
                f"unknown channel {channel!r}{did_you_mean(channel, known)}; "
                f"expected channels among {', '.join(known)}"
            )
    check_picklist_values(value)
    return {**DEFAULT_ORIGIN_BY_CHANNEL, **value}


def merge_priorities(value: dict[str, str]) -> dict[str, str]:
    """The user's priority map (keys lower-cased) over :data:`DEFAULT_PRIORITY_MAP`."""
    check_picklist_values(value)
    lowered = {k.strip().lower(): v for k, v in value.items()}
    return {**DEFAULT_PRIORITY_MAP, **lowered}
