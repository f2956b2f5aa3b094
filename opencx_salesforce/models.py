"""The data the host and the plugin exchange: sessions, contacts, messages.

These are the host's view of a conversation. The plugin never invents fields on
them; what it needs to remember (the Case Id, for instance) goes into
``Session.metadata`` through the host store, so any host can persist it.
"""

from __future__ import annotations

import copy
import enum
from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field


def utcnow() -> datetime:
    return datetime.now(UTC)


class Role(enum.StrEnum):
    """Who wrote a message."""

    CONTACT = "contact"
    BOT = "bot"
    AGENT = "agent"
    SYSTEM = "system"


class Channel(enum.StrEnum):
    """Where the conversation happens. Kept on the Session so a later Live
    Messaging path can route by it (see DESIGN.md, "Later: Live Messaging")."""

    EMAIL = "email"
    CHAT = "chat"
    SMS = "sms"
    WHATSAPP = "whatsapp"
    PHONE = "phone"
    WEB = "web"


class SessionStatus(enum.StrEnum):
    OPEN = "open"
    HANDED_OFF = "handed_off"
    RESOLVED = "resolved"


class Contact(BaseModel):
    """The person talking to the bot. Every field is optional: an anonymous chat
    has none of them."""

    model_config = ConfigDict(frozen=True)

    name: str | None = None
    email: str | None = None
    phone: str | None = None

    def key(self) -> str | None:
        """A stable identity for "the same contact": email first, then phone."""
        if self.email:
            return "email:" + self.email.strip().lower()
        if self.phone:
            digits = "".join(ch for ch in self.phone if ch.isdigit() or ch == "+")
            return "phone:" + digits if digits else None
        return None


class Message(BaseModel):
    """One message of a conversation."""

    model_config = ConfigDict(frozen=True)

    id: str
    role: Role
    text: str
    created_at: datetime = Field(default_factory=utcnow)
    author: str | None = None
    # The id of the record this message came from on another system (a Salesforce
    # CaseComment Id for a rep's reply), so a host can show and dedupe it.
    external_id: str | None = None


class Session(BaseModel):
    """A conversation, as the host knows it."""

    id: str
    channel: Channel = Channel.CHAT
    contact: Contact = Field(default_factory=Contact)
    topic: str = ""
    summary: str = ""
    language: str | None = None
    priority: str | None = None
    status: SessionStatus = SessionStatus.OPEN
    messages: list[Message] = Field(default_factory=list)
    # Free-form data owned by the host and its plugins. This plugin writes
    # ``salesforce_case_id`` here.
    metadata: dict[str, Any] = Field(default_factory=dict)
    created_at: datetime = Field(default_factory=utcnow)


class HandoffReason(BaseModel):
    """Why the bot handed the conversation to a human."""

    model_config = ConfigDict(frozen=True)

    code: str = "requested"
    detail: str = ""


def detached_copy(session: Session) -> Session:
    """A copy of ``session`` that nothing done to the original can change, nor
    the original to it (messages and the contact are frozen; the lists and the
    metadata are not): what a host hands out and what the plugin keeps of a
    hook call's session."""
    return session.model_copy(
        update={"messages": list(session.messages), "metadata": _thawed(session.metadata)}
    )


def _thawed(value: Any) -> Any:
    """A copy of JSON-like data: its dicts and lists new, the rest shared (what
    cannot change in place; ``copy.deepcopy`` costs as much as parsing)."""
    if isinstance(value, dict):
        return {k: _thawed(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_thawed(v) for v in value]
    if isinstance(value, (str, int, float, bool, type(None), tuple)):
        return value
    return copy.deepcopy(value)
