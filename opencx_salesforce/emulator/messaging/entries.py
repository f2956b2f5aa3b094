"""Conversation entries and the server-sent events that carry them.

An event's ``data`` is ``{"channelPlatformKey", "channelType": "embedded_messaging",
"channelAddressIdentifier", "conversationId", "conversationEntry"}``
[src: Server-Sent Events, https://developer.salesforce.com/docs/service/messaging-api/
references/about/server-sent-events.htm]. In the stream ``entryPayload`` is a JSON
string; in the list-entries answer it is an object [src: MIAW.md §3, sample
listConversationEntries]. Entry fields beyond ``senderDisplayName`` and the payload
shapes are from public client code (UNCONFIRMED, MIAW.md §4).
"""

from __future__ import annotations

import json
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

# Documented event types [src: Server-Sent Events Structure,
# https://developer.salesforce.com/docs/service/messaging-api/references/about/
# server-sent-events-structure.md]
MESSAGE = "CONVERSATION_MESSAGE"
PARTICIPANT_CHANGED = "CONVERSATION_PARTICIPANT_CHANGED"
CLOSE_CONVERSATION = "CONVERSATION_CLOSE_CONVERSATION"
SESSION_STATUS_CHANGED = "CONVERSATION_SESSION_STATUS_CHANGED"
DELIVERY_ACKNOWLEDGEMENT = "CONVERSATION_DELIVERY_ACKNOWLEDGEMENT"
# In the official sample's constants.js, not in the reference.
ROUTING_RESULT = "CONVERSATION_ROUTING_RESULT"
# Public client code only (UNCONFIRMED, MIAW.md §4).
TYPING_STARTED = "CONVERSATION_TYPING_STARTED_INDICATOR"
TYPING_STOPPED = "CONVERSATION_TYPING_STOPPED_INDICATOR"

# The event each entry type travels as.
EVENT_OF_ENTRY = {
    "Message": MESSAGE,
    "ParticipantChanged": PARTICIPANT_CHANGED,
    "RoutingResult": ROUTING_RESULT,
    "SessionStatusChanged": SESSION_STATUS_CHANGED,
    "CloseConversation": CLOSE_CONVERSATION,
    "TypingStartedIndicator": TYPING_STARTED,
    "TypingStoppedIndicator": TYPING_STOPPED,
}
# Typing indicators are transient: streamed, never listed (UNCONFIRMED).
TRANSIENT_ENTRY_TYPES = frozenset({"TypingStartedIndicator", "TypingStoppedIndicator"})

# Sender roles [src: sample constants.js]
END_USER = "EndUser"
AGENT = "Agent"
SYSTEM = "System"
ROUTER = "Router"

# ``sender.appType`` by role: "iamessage" for the end user, "chatbot", and
# "conversation" for System, as the official sample's example.json records them;
# "agent" for a rep [src: ConversationParticipant.AppType, object reference:
# "messaging, chatbot, live_message, agent"].
APP_TYPES = {END_USER: "iamessage", AGENT: "agent", "Chatbot": "chatbot", SYSTEM: "conversation"}

# Session statuses (values UNCONFIRMED: Waiting → Active → Ended, MIAW.md §4).
WAITING = "Waiting"
ACTIVE = "Active"
ENDED = "Ended"


@dataclass(frozen=True)
class Sender:
    role: str
    subject: str
    display_name: str

    def as_dict(self) -> dict[str, str]:
        """``{"role", "appType", "subject", "clientIdentifier"}`` [src: sample
        example.json]; ``clientIdentifier`` is empty there for every sender."""
        return {
            "role": self.role,
            "appType": APP_TYPES.get(self.role, ""),
            "subject": self.subject,
            "clientIdentifier": "",
        }


@dataclass
class Entry:
    """One conversation entry, as the platform records it."""

    entry_type: str
    payload: dict[str, Any]
    sender: Sender
    timestamp_ms: int
    session_id: str
    client_timestamp_ms: int | None = None
    identifier: str = field(default_factory=lambda: str(uuid.uuid4()))

    def as_dict(self, *, payload_as_string: bool) -> dict[str, Any]:
        # The payload's ``id`` is the entry's identifier, for every entry type
        # [src: sample example.json; StaticContentMessage sample payload].
        payload = {"entryType": self.entry_type, "id": self.identifier, **self.payload}
        return {
            "identifier": self.identifier,
            "entryType": self.entry_type,
            "entryPayload": json.dumps(payload) if payload_as_string else payload,
            "sender": self.sender.as_dict(),
            "senderDisplayName": self.sender.display_name,
            "transcriptedTimestamp": self.timestamp_ms,
            "clientTimestamp": self.client_timestamp_ms or self.timestamp_ms,
            # The MessagingSession the entry belongs to (UNCONFIRMED, MIAW.md §5).
            "relatedRecords": [self.session_id],
        }


def text_message_payload(
    message_id: str, text: str, in_reply_to: str | None = None
) -> dict[str, Any]:
    """``entryPayload`` of a text message (``entryType`` and ``id`` added by
    :meth:`Entry.as_dict`; the message id is the entry's identifier), as documented:
    ``{"entryType": "Message", "id", "abstractMessage": {"messageType":
    "StaticContentMessage", "inReplyToMessageId": null, "id", "references": [],
    "staticContent": {"formatType": "Text", "text"}}, "messageReason": null}``
    [src: StaticContentMessage, https://developer.salesforce.com/docs/service/
    messaging-api/references/about/message-types-payloads-staticcontentmessage.md]."""
    return {
        "id": message_id,
        "abstractMessage": {
            "messageType": "StaticContentMessage",
            "inReplyToMessageId": in_reply_to,
            "id": message_id,
            "references": [],
            "staticContent": {"formatType": "Text", "text": text},
        },
        "messageReason": None,
    }


def participant_payload(operation: str, sender: Sender) -> dict[str, Any]:
    """``{"entries": [{"operation": "add"|"remove", "participant": {sender},
    "displayName"}]}`` [src: sample constants.js; sample example.json]."""
    return {
        "entries": [
            {
                "operation": operation,
                "participant": sender.as_dict(),
                "displayName": sender.display_name,
            }
        ]
    }


@dataclass(frozen=True)
class Event:
    """One server-sent event: its id (increasing across the emulator), the end
    user it goes to, its type and its ``data`` object."""

    id: int
    subject: str
    event_type: str
    data: dict[str, Any]
    # When it happened (monotonic seconds): a network delay counts from here.
    at: float = field(default_factory=time.monotonic, compare=False)

    def frame(self) -> bytes:
        """The event on the wire, per the SSE format (id, event, data, blank line)."""
        return (
            f"id: {self.id}\nevent: {self.event_type}\ndata: {json.dumps(self.data)}\n\n".encode()
        )
