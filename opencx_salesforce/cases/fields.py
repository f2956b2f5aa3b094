"""The Case's fields: built from the session, extended by plugins, checked against
the org's describe before anything is sent.

A bad field from an extension hook (unknown name, wrong type, too long, not
writable) is an :class:`~opencx_salesforce.errors.ExtensionHookError` naming the
plugin and the field, raised here, not a Salesforce 400 found later in a log.
"""

from __future__ import annotations

import inspect
import json
import math
import re
from collections.abc import Mapping
from typing import Any

import pluggy

from opencx_salesforce.cases import field_mapping
from opencx_salesforce.errors import ExtensionHookError
from opencx_salesforce.extensions import DEFAULTS_PLUGIN, answers
from opencx_salesforce.hookcalls import call_plugin
from opencx_salesforce.models import Session
from opencx_salesforce.salesforce.client import SalesforceClient
from opencx_salesforce.salesforce.text import cut_to, utf16_len
from opencx_salesforce.settings import SalesforceSettings
from opencx_salesforce.settings.loader import did_you_mean
from opencx_salesforce.store import namespaces
from opencx_salesforce.store.base import Store

# Field sizes of the standard Case fields the plugin writes.
# [src: Case field reference (sfFieldRef salesforce_field_reference_Case.htm):
#  Subject string(255), Description textarea(32000), SuppliedName string(80),
#  SuppliedEmail email(80), SuppliedPhone string(40)]
SUBJECT_MAX = 255
DESCRIPTION_MAX = 32000
SUPPLIED_NAME_MAX = 80
SUPPLIED_EMAIL_MAX = 80
SUPPLIED_PHONE_MAX = 40

DESCRIBE_CACHE_NS = namespaces.DESCRIBE
DESCRIBE_TTL = 3600.0

_ID_RE = re.compile(r"^[a-zA-Z0-9]{15}(?:[a-zA-Z0-9]{3})?$")
_TEXT_TYPES = {
    "string",
    "textarea",
    "email",
    "phone",
    "url",
    "picklist",
    "multipicklist",
    "combobox",
    "encryptedstring",
}
_NUMBER_TYPES = {"double", "int", "currency", "percent", "long"}


def clip(text: str, limit: int) -> str:
    """``text`` cut to fit ``limit`` as Salesforce counts it (UTF-16 code units),
    at a grapheme cluster boundary, ending in an ellipsis when cut (so an emoji
    topic is never refused with STRING_TOO_LONG nor cut inside a flag)."""
    text = text.strip()
    if utf16_len(text) <= limit:
        return text
    return cut_to(text, limit - 1).rstrip() + "…"


def subject_for(session: Session) -> str:
    topic = session.topic.strip()
    if not topic:
        first = next((m.text for m in session.messages if m.role == "contact" and m.text), "")
        topic = " ".join(first.split()) or "Conversation from OpenCX"
    return clip(" ".join(topic.split()), SUBJECT_MAX)


def base_fields(session: Session, settings: SalesforceSettings) -> dict[str, Any]:
    """The fields every Case gets, from the session alone."""
    fields: dict[str, Any] = {
        "Subject": subject_for(session),
        "Description": clip(session.summary, DESCRIPTION_MAX) if session.summary else None,
        "Case_From__c": settings.case_from_value,
    }
    origin = settings.origin_by_channel.get(str(session.channel))
    if origin:
        fields["Origin"] = origin
    if session.priority:
        priority = settings.priority_map.get(session.priority.strip().lower())
        if priority:
            fields["Priority"] = priority
    contact = session.contact
    if contact.name:
        fields["SuppliedName"] = clip(contact.name, SUPPLIED_NAME_MAX)
    if contact.email and len(contact.email) <= SUPPLIED_EMAIL_MAX:
        fields["SuppliedEmail"] = contact.email.strip()
    if contact.phone:
        fields["SuppliedPhone"] = clip(contact.phone, SUPPLIED_PHONE_MAX)
    return {k: v for k, v in fields.items() if v is not None}


async def default_fields(pm: pluggy.PluginManager, session: Session) -> dict[str, Any]:
    """What the defaults plugin (:mod:`opencx_salesforce.defaults`) answers to
    ``salesforce_case_fields``: asked before the extensions, through the same
    path, so each of them sees the default fields in ``fields``."""
    found = await call_plugin(
        pm, "salesforce_case_fields", DEFAULTS_PLUGIN, {"session": session, "fields": {}}
    )
    return dict(found[0]) if found else {}


async def hook_fields(
    pm: pluggy.PluginManager, session: Session, fields: Mapping[str, Any], protected: set[str]
) -> tuple[dict[str, Any], dict[str, str]]:
    """Ask every ``salesforce_case_fields`` implementation for its fields; returns
    the fields and, for each, the name of the plugin that set it.

    Each plugin is called on its own so an error names it. Two plugins setting the
    same field is an error naming both (an order-dependent winner would surprise
    one of them); the plugin's own bookkeeping fields (``protected``) are off limits.
    """
    merged: dict[str, Any] = {}
    owner: dict[str, str] = {}
    # Field API names are case-insensitive in Salesforce: compare them so.
    protected_lower = {name.lower() for name in protected}
    owner_lower: dict[str, str] = {}
    async for name, answer in answers(
        pm,
        "salesforce_case_fields",
        exclude=(DEFAULTS_PLUGIN,),  # asked already: default_fields
        copied=("fields",),  # what one plugin does to it, the next does not see
        session=session,
        fields=dict(fields),
    ):
        if not isinstance(answer, Mapping):
            raise ExtensionHookError(
                name,
                None,
                f"salesforce_case_fields must return a dict or None, got {type(answer).__name__}",
            )
        for key, value in answer.items():
            if not isinstance(key, str):
                raise ExtensionHookError(name, repr(key), "field names must be strings")
            if key.lower() in protected_lower:
                raise ExtensionHookError(
                    name, key, "is set by the Salesforce plugin itself and cannot be overridden"
                )
            if key.lower() in owner_lower:
                raise ExtensionHookError(
                    name,
                    key,
                    f"is already set by plugin {owner_lower[key.lower()]!r}; only one may set it",
                )
            owner_lower[key.lower()] = name
            if inspect.isawaitable(value):
                raise ExtensionHookError(name, key, "value is an un-awaited coroutine")
            owner[key] = name
            merged[key] = value
    return merged, owner


def check_fields(
    fields: Mapping[str, Any], describe: Mapping[str, Any], owners: Mapping[str, str]
) -> None:
    """Check ``fields`` against the Case describe: the field exists, is writable,
    and the value has the right type and length. The error names the plugin that
    set the field (``owners``) or ``salesforce`` for the plugin's own."""
    by_name = {f["name"].lower(): f for f in describe.get("fields", [])}
    for key, value in fields.items():
        plugin = owners.get(key, "salesforce")
        info = by_name.get(key.lower())
        if info is None:
            names = [str(f["name"]) for f in describe.get("fields", [])]
            hint = did_you_mean(key, names)
            raise ExtensionHookError(plugin, key, f"no such field on Case in this org{hint}")
        if not info.get("createable", False):
            raise ExtensionHookError(plugin, key, "is read-only (not createable) in this org")
        problem = value_problem(info, value)
        if problem:
            raise ExtensionHookError(plugin, key, problem)


def value_problem(info: Mapping[str, Any], value: Any) -> str | None:
    """Why ``value`` cannot go into the described field, or ``None``."""
    kind = info.get("type", "string")
    if value is None:
        return None if info.get("nillable", True) else "cannot be empty"
    if isinstance(value, float) and not math.isfinite(value):
        # JSON has no NaN or Infinity: sent, the request body is not JSON.
        return f"is {value!r}, which no Salesforce field holds (JSON has no NaN or Infinity)"
    if kind in _TEXT_TYPES:
        if not isinstance(value, str):
            return f"expects text ({kind}), got {type(value).__name__}"
        length = int(info.get("length") or 0)
        # Salesforce counts Java chars (UTF-16 code units): an emoji counts 2.
        if length and utf16_len(value) > length:
            return f"is {utf16_len(value)} characters; the field holds {length}"
        if kind == "picklist" and info.get("restrictedPicklist"):
            allowed = [p["value"] for p in info.get("picklistValues", []) if p.get("active")]
            if value not in allowed:
                return f"{value!r} is not one of the picklist's values {allowed}"
        return None
    if kind == "boolean":
        return None if isinstance(value, bool) else f"expects true/false, got {value!r}"
    if kind in _NUMBER_TYPES:
        if isinstance(value, bool) or not isinstance(value, int | float):
            return f"expects a number ({kind}), got {type(value).__name__}"
        return None
    if kind in ("date", "datetime", "time"):
        return None if isinstance(value, str) else f"expects an ISO {kind} string"
    if kind in ("reference", "id"):
        if not isinstance(value, str) or not _ID_RE.match(value):
            return f"expects a Salesforce record Id, got {value!r}"
        return None
    return None


def configured_fields(
    settings: SalesforceSettings, session: Session, protected: set[str]
) -> dict[str, Any]:
    """The ``[salesforce.case_fields]`` table's fields for ``session``."""
    mapped = field_mapping.mapped_fields(settings.case_fields, session)
    protected_lower = {name.lower() for name in protected}
    for key in mapped:
        if key.lower() in protected_lower:
            raise ExtensionHookError(
                field_mapping.SOURCE, key, "is set by the Salesforce plugin itself"
            )
    return mapped


class CaseFields:
    """Builds a Case's fields and checks the hooks' against the org's describe,
    cached in the store."""

    def __init__(
        self,
        *,
        settings: SalesforceSettings,
        pm: pluggy.PluginManager,
        store: Store,
        client: SalesforceClient,
    ) -> None:
        self._settings = settings
        self._pm = pm
        self._store = store
        self._client = client

    async def build(self, session: Session) -> dict[str, Any]:
        """The Case's fields for ``session``: the defaults plugin's, then the
        ``[salesforce.case_fields]`` table's, then every other hook's (the last wins)."""
        fields = await default_fields(self._pm, session)
        # The plugin finds its Cases by this field: set even without the defaults.
        fields.setdefault("Case_From__c", self._settings.case_from_value)
        protected = {"Case_From__c", self._settings.session_id_field}
        mapped = configured_fields(self._settings, session, protected)
        fields.update(mapped)
        extra, owners = await hook_fields(self._pm, session, fields, protected)
        overridden = {k.lower() for k in extra}
        configured = {k: v for k, v in mapped.items() if k.lower() not in overridden}
        owners = {**dict.fromkeys(configured, field_mapping.SOURCE), **owners}
        extra = {**configured, **extra}
        if extra:
            describe, cached = await self._describe_case()
            try:
                check_fields(extra, describe, owners)
            except ExtensionHookError:
                if not cached:
                    raise
                # The admin may have just fixed the org (added the field): look
                # again before calling it an error.
                describe, _ = await self._describe_case(fresh=True)
                check_fields(extra, describe, owners)
            fields.update(extra)
        return fields

    async def _describe_case(self, *, fresh: bool = False) -> tuple[Mapping[str, Any], bool]:
        """The Case describe and whether it came from the cache. Cached in the
        store for an hour (shared by every host instance), so checking hook
        fields costs an API call per hour, not per handoff."""
        raw = None if fresh else await self._store.get(DESCRIBE_CACHE_NS, "Case")
        if raw is not None:
            cached: Mapping[str, Any] = json.loads(raw)
            return cached, True
        describe = await self._client.describe("Case", fresh=fresh)
        slim = {
            "fields": [
                {
                    k: f.get(k)
                    for k in (
                        "name",
                        "type",
                        "length",
                        "createable",
                        "updateable",
                        "nillable",
                        "restrictedPicklist",
                        "picklistValues",
                    )
                }
                for f in describe.get("fields", [])
            ]
        }
        await self._store.set(
            DESCRIBE_CACHE_NS, "Case", json.dumps(slim).encode(), ttl=DESCRIBE_TTL
        )
        return slim, False
