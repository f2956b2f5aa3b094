"""What the Enhanced Chat API gives the plugin, typed: access tokens and the events
of the stream.

Event types and the rule to ignore unknown ones come from the documentation
[src: Server-Sent Events Structure, https://developer.salesforce.com/docs/service/
messaging-api/references/about/server-sent-events-structure.md]; the fields read
inside ``conversationEntry`` and its ``entryPayload`` come from public client code
(UNCONFIRMED, MIAW.md §4-5), so every read here tolerates a missing field.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from typing import Any

MESSAGE = "CONVERSATION_MESSAGE"
PARTICIPANT_CHANGED = "CONVERSATION_PARTICIPANT_CHANGED"
CLOSE_CONVERSATION = "CONVERSATION_CLOSE_CONVERSATION"
SESSION_STATUS_CHANGED = "CONVERSATION_SESSION_STATUS_CHANGED"
ROUTING_RESULT = "CONVERSATION_ROUTING_RESULT"  # official sample constants.js
TYPING_STARTED = "CONVERSATION_TYPING_STARTED_INDICATOR"  # public client code, UNCONFIRMED
TYPING_STOPPED = "CONVERSATION_TYPING_STOPPED_INDICATOR"  # public client code, UNCONFIRMED

END_USER = "EndUser"  # sender role of the end user's own messages, echoed back


@dataclass(frozen=True, slots=True)
class AccessToken:
    """An access token and what the plugin keeps with it for the whole handoff:
    the ``lastEventId`` that seeds the first stream connection [src: MIAW.md §2]."""

    token: str
    last_event_id: str
    subject: str
    expires_at: float | None  # the JWT's exp, when it has one
    # "api" for a Custom Client deployment [src: API reference]; what ``doctor``
    # checks. Empty when the answer does not say.
    deployment_type: str = ""

    @property
    def verified(self) -> bool:
        # v2/iamessage/AUTH/... when verified; a guest's is
        # v2/iamessage/UNAUTH/NA/uid:<uuid> (the official sample app's
        # example.json; MIAW.md §2)
        return "/AUTH/" in self.subject

    @classmethod
    def from_response(cls, body: dict[str, Any]) -> AccessToken:
        token = str(body["accessToken"])
        context = body.get("context") or {}
        subject = str((context.get("endUser") or {}).get("subject") or "")
        claims = jwt_claims(token)
        exp = claims.get("exp")
        configuration = (context.get("configuration") or {}).get("embeddedServiceConfig") or {}
        return cls(
            token=token,
            last_event_id=str(body.get("lastEventId") or ""),
            subject=subject or str(claims.get("sub") or ""),
            expires_at=float(exp) if isinstance(exp, int | float) else None,
            deployment_type=str(configuration.get("deploymentType") or ""),
        )


def jwt_claims(token: str) -> dict[str, Any]:
    """The claims of a JWT, unverified: the client only reads its expiry (the guest
    lifetime is undocumented, MIAW.md §2). Empty when it is not a JWT."""
    try:
        part = token.split(".")[1]
        claims = json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))
    except (IndexError, ValueError):
        return {}
    return claims if isinstance(claims, dict) else {}


@dataclass(frozen=True, slots=True)
class LiveEvent:
    """One entry of a conversation, from the stream (``event_id`` set) or from a
    list-entries backfill (``event_id`` None)."""

    event_type: str
    event_id: str | None
    conversation_id: str
    entry_id: str
    entry_type: str
    sender_role: str
    sender_subject: str
    sender_name: str
    timestamp_ms: int
    payload: dict[str, Any]

    @property
    def from_end_user(self) -> bool:
        """Our own messages echo back as the end user [src: MIAW.md §4]."""
        return self.sender_role == END_USER


@dataclass(frozen=True, slots=True)
class MessageEvent(LiveEvent):
    text: str


@dataclass(frozen=True, slots=True)
class ParticipantChanged(LiveEvent):
    operation: str  # "add" | "remove" [src: sample constants.js]
    participant_role: str
    participant_name: str

    @property
    def joined(self) -> bool:
        return self.operation == "add"


@dataclass(frozen=True, slots=True)
class RoutingResult(LiveEvent):
    routing_type: str  # "Initial" | "Transfer"
    failure_type: str  # "None" | "Unknown" | "SubmissionError" | "RoutingError"
    failure_reason: str

    @property
    def failed(self) -> bool:
        """``failureType != "None"``: the handoff failed (MIAW.md §5)."""
        return self.failure_type not in ("None", "")


@dataclass(frozen=True, slots=True)
class SessionStatusChanged(LiveEvent):
    status: str  # Waiting | Active | Ended (values UNCONFIRMED, MIAW.md §4)

    @property
    def ended(self) -> bool:
        return self.status.lower() in ("ended", "closed", "inactive")


@dataclass(frozen=True, slots=True)
class Typing(LiveEvent):
    started: bool


@dataclass(frozen=True, slots=True)
class ConversationClosed(LiveEvent):
    """Only when the end user closes; a rep ending the session shows as
    :class:`SessionStatusChanged` [src: Server-Sent Events Structure]."""


ENTRY_EVENTS = {
    "Message": MESSAGE,
    "ParticipantChanged": PARTICIPANT_CHANGED,
    "RoutingResult": ROUTING_RESULT,
    "SessionStatusChanged": SESSION_STATUS_CHANGED,
    "CloseConversation": CLOSE_CONVERSATION,
}
KNOWN_EVENTS = frozenset({*ENTRY_EVENTS.values(), TYPING_STARTED, TYPING_STOPPED})


def parse_event(event_type: str, event_id: str | None, data: str) -> LiveEvent | None:
    """The typed event of one stream event; None for types the plugin does not know
    ("your implementation must ignore unrecognized event types") or data it cannot
    read."""
    if event_type not in KNOWN_EVENTS:
        return None
    try:
        body = json.loads(data)
    except ValueError:
        return None
    if not isinstance(body, dict) or not isinstance(body.get("conversationEntry"), dict):
        return None
    return parse_entry(
        body["conversationEntry"], str(body.get("conversationId") or ""), event_type, event_id
    )


def parse_entry(
    entry: dict[str, Any],
    conversation_id: str,
    event_type: str | None = None,
    event_id: str | None = None,
) -> LiveEvent | None:
    """A conversation entry (``entryPayload`` a JSON string in the stream, an object
    in list-entries) as a typed event."""
    raw = entry.get("entryPayload")
    try:
        payload = json.loads(raw) if isinstance(raw, str) else raw
    except ValueError:
        payload = None
    if not isinstance(payload, dict):
        payload = {}
    entry_type = str(entry.get("entryType") or payload.get("entryType") or "")
    if event_type is None:
        event_type = ENTRY_EVENTS.get(entry_type) or ""
    found = entry.get("sender")
    sender: dict[str, Any] = found if isinstance(found, dict) else {}
    common: dict[str, Any] = {
        "event_type": event_type,
        "event_id": event_id,
        "conversation_id": conversation_id,
        "entry_id": str(entry.get("identifier") or ""),
        "entry_type": entry_type,
        "sender_role": str(sender.get("role") or ""),
        "sender_subject": str(sender.get("subject") or ""),
        "sender_name": str(entry.get("senderDisplayName") or ""),
        "timestamp_ms": _int(entry.get("transcriptedTimestamp")),
        "payload": payload,
    }
    if event_type == MESSAGE:
        content = (payload.get("abstractMessage") or {}).get("staticContent") or {}
        return MessageEvent(**common, text=str(content.get("text") or ""))
    if event_type == PARTICIPANT_CHANGED:
        items = payload.get("entries") or [{}]
        first = items[0] if isinstance(items[0], dict) else {}
        participant = first.get("participant") or {}
        return ParticipantChanged(
            **common,
            operation=str(first.get("operation") or ""),
            participant_role=str(participant.get("role") or ""),
            participant_name=str(first.get("displayName") or ""),
        )
    if event_type == ROUTING_RESULT:
        return RoutingResult(
            **common,
            routing_type=str(payload.get("routingType") or ""),
            failure_type=str(payload.get("failureType") or "None"),
            failure_reason=str(payload.get("failureReason") or ""),
        )
    if event_type == SESSION_STATUS_CHANGED:
        return SessionStatusChanged(**common, status=str(payload.get("sessionStatus") or ""))
    if event_type in (TYPING_STARTED, TYPING_STOPPED):
        return Typing(**common, started=event_type == TYPING_STARTED)
    if event_type == CLOSE_CONVERSATION:
        return ConversationClosed(**common)
    return None


def _int(value: Any) -> int:
    return int(value) if isinstance(value, int | float) and not isinstance(value, bool) else 0
