"""Case fields from configuration: the ``[salesforce.case_fields]`` table.

For "put the plan name in ``Plan__c``" without writing a plugin::

    [salesforce.case_fields]
    Plan__c = "{metadata.plan}"
    Account_Ref__c = "ACME-{metadata.account}"
    Channel_Detail__c = "{channel} ({language})"

Each key is a Case field's API name; each value a template whose placeholders
name a part of the session (:data:`PLACEHOLDERS`, plus ``metadata.<key>``). A
value that is exactly one placeholder keeps the session value's type (a number
stays a number, for a Number field); otherwise the parts are joined as text. If
any placeholder has no value on the session, the field is left out, so the
org's default applies rather than a half-filled text. Text without placeholders
is a constant; ``{{`` and ``}}`` are literal braces.

The table is the lowest-priority source above the plugin's defaults: an
extension hook setting the same field wins. Templates are checked when the
settings load (unknown placeholder: did-you-mean); the field names are checked
against the org's describe before each handoff, like a hook's fields, and a
misspelt one is refused with the closest real field name.
"""

from __future__ import annotations

import difflib
import enum
import re
import string
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from opencx_salesforce.models import Session

# Who set a field, as errors name it (in place of a plugin name).
SOURCE = "[salesforce.case_fields]"
METADATA = "metadata."

# The session's parts a template may name (besides metadata.<key>).
PLACEHOLDERS: Mapping[str, str] = {
    "session_id": "the session's id",
    "channel": "email, chat, sms, whatsapp, phone or web",
    "language": "the conversation's language, when the bot set one",
    "priority": "the priority the bot set (free text)",
    "topic": "the conversation's topic",
    "contact.name": "the contact's name",
    "contact.email": "the contact's email address",
    "contact.phone": "the contact's phone number",
}

# A Case field's API name: standard (Priority) or custom (Plan__c, ns__Plan__c).
_FIELD_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_]*$")
_MISSING = object()


@dataclass(frozen=True)
class FieldTemplate:
    field: str
    template: str
    parts: tuple[tuple[str, str | None], ...]  # (literal text, placeholder or None)

    @property
    def single(self) -> str | None:
        """The placeholder, when the template is exactly one."""
        if len(self.parts) == 1 and self.parts[0][0] == "":
            return self.parts[0][1]
        return None

    def render(self, session: Session) -> Any:
        """The field's value for ``session``, or :data:`None` to leave it out."""
        if self.single is not None:
            value = session_value(session, self.single)
            return None if value is _MISSING else value
        out = []
        for literal, name in self.parts:
            out.append(literal)
            if name is not None:
                value = session_value(session, name)
                if value is _MISSING:
                    return None
                out.append(str(value))
        return "".join(out)


def parse_template(field: str, template: str) -> FieldTemplate:
    """Check one entry of the table; ``ValueError`` says what is wrong."""
    if not _FIELD_NAME.match(field):
        raise ValueError(f"{field!r} is not a Case field API name (such as Plan__c)")
    if not isinstance(template, str):
        raise ValueError(f'expected a text template such as "{{metadata.plan}}" for {field}')
    try:
        pieces = list(string.Formatter().parse(template))
    except ValueError as exc:
        raise ValueError(
            f"unreadable template for {field} ({exc}): {template!r}; write {{{{ for a brace"
        ) from None
    parts: list[tuple[str, str | None]] = []
    for literal, name, spec, conversion in pieces:
        if name is None:
            parts.append((literal, None))
            continue
        if spec or conversion:
            raise ValueError(f"{{{name}}} in {field} takes no format spec or conversion")
        _check_placeholder(field, name)
        parts.append((literal, name))
    return FieldTemplate(field, template, tuple(parts))


def _check_placeholder(field: str, name: str) -> None:
    if name.startswith(METADATA) and len(name) > len(METADATA):
        return
    if name in PLACEHOLDERS:
        return
    known = [*PLACEHOLDERS, "metadata.<key>"]
    close = _suggest(name)
    hint = f" (did you mean {{{close}}}?)" if close else ""
    raise ValueError(f"unknown placeholder {{{name}}} in {field}{hint}; known: {', '.join(known)}")


def _suggest(name: str) -> str | None:
    head, dot, rest = name.partition(".")
    if dot and rest and _close(head, ["metadata"]):
        return f"metadata.{rest}"  # metdata.plan -> metadata.plan
    return _close(name, list(PLACEHOLDERS))


def _close(word: str, known: list[str]) -> str | None:
    matches = difflib.get_close_matches(word, known, n=1, cutoff=0.6)
    return matches[0] if matches else None


def session_value(session: Session, name: str) -> Any:
    """The session's value for a placeholder, or ``_MISSING``."""
    if name.startswith(METADATA):
        value = session.metadata.get(name[len(METADATA) :])
    elif name.startswith("contact."):
        value = getattr(session.contact, name.removeprefix("contact."), None)
    elif name == "session_id":
        value = session.id
    else:
        value = getattr(session, name, None)
    if value is None or value == "":
        return _MISSING
    return value.value if isinstance(value, enum.Enum) else value


def parse_mapping(table: Mapping[str, str]) -> dict[str, FieldTemplate]:
    """Every entry of the table checked; one ``ValueError`` listing every problem."""
    problems: list[str] = []
    parsed: dict[str, FieldTemplate] = {}
    for field, template in table.items():
        try:
            parsed[field] = parse_template(field, template)
        except ValueError as exc:
            problems.append(str(exc))
    if problems:
        raise ValueError("; ".join(problems))
    return parsed


def mapped_fields(table: Mapping[str, str], session: Session) -> dict[str, Any]:
    """The table's fields for ``session`` (those with a value)."""
    out: dict[str, Any] = {}
    for field, template in parse_mapping(table).items():
        value = template.render(session)
        if value is not None:
            out[field] = value
    return out
