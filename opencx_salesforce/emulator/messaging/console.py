"""The agent console: what a rep sees of the org's messaging conversations (who,
why, what was said) and the forms to work one; plus the same as JSON for tests."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from aiohttp import web

from opencx_salesforce.emulator.messaging.entries import ENDED, Entry
from opencx_salesforce.emulator.messaging.omni import Omni, queue_id
from opencx_salesforce.emulator.messaging.side import Conversation, MessagingSide, OrgMessaging
from opencx_salesforce.emulator.rep import RepError, default_rep
from opencx_salesforce.emulator.views import render

# Routing attributes the console labels; others show under their own names.
LABELS = {
    "_firstName": "First name",
    "_lastName": "Last name",
    "_email": "Email",
    "_subject": "Subject",
}


class Console:
    def __init__(self, side: MessagingSide, omni: Omni) -> None:
        self.side = side
        self.omni = omni

    def describe(self, conversation: Conversation) -> dict[str, Any]:
        session = conversation.session
        return {
            "conversationId": conversation.id,
            "deployment": conversation.deployment.api_name,
            "closed": conversation.closed,
            "endUser": {"subject": conversation.subject, "name": conversation.end_user_name},
            "endUserTyping": conversation.end_user_typing,
            "agentTyping": conversation.agent_typing,
            "sessions": len(conversation.sessions),
            "session": {
                "id": session.id,
                "status": session.status,
                "queue": session.queue,
                "queueId": queue_id(session.queue),
                "routed": session.routed,
                "routingFailure": session.routing_failure,
                "agent": session.agent,
                "routingAttributes": session.routing_attributes,
            },
            "entries": [entry.as_dict(payload_as_string=False) for entry in conversation.entries],
        }

    def render(self, org: OrgMessaging, *, selected: str, notice: str, error: str) -> web.Response:
        conversations = sorted(org.conversations.values(), key=lambda c: (c.closed, -c.created_at))
        current = org.conversations.get(selected) or (conversations[0] if conversations else None)
        return render(
            "messaging_console.html",
            title=f"Agent console · {org.org.seed.name}",
            org=org.org,
            faults=org.faults,
            conversations=[self._row(c, c is current) for c in conversations],
            current=self._detail(org, current) if current else None,
            agents=self.omni.agents(current) if current else [],
            default_agent=_default_agent(org),
            console_url=f"/_emulator/orgs/{org.org.id}/messaging/",
            notice=notice,
            error=error,
        )

    def _row(self, conversation: Conversation, selected: bool) -> dict[str, Any]:
        session = conversation.session
        attributes = conversation.sessions[0].routing_attributes
        return {
            "id": conversation.id,
            "name": conversation.end_user_name,
            "topic": attributes.get("_subject", ""),
            "status": "Closed" if conversation.closed else session.status,
            "failed": session.routing_failure is not None,
            "selected": selected,
            "url": f"{_console_url(conversation)}?c={conversation.id}",
        }

    def _detail(self, org: OrgMessaging, conversation: Conversation) -> dict[str, Any]:
        session = conversation.session
        agent = next(
            (a for a in self.omni.agents(conversation) if a.user_id == session.agent), None
        )
        return {
            "id": conversation.id,
            "name": conversation.end_user_name,
            "subject": conversation.subject,
            "closed": conversation.closed,
            "status": session.status,
            "ended": session.status == ENDED,
            "queue": session.queue,
            "routed": session.routed,
            "failure": session.routing_failure,
            "agent": agent.name if agent else "",
            "waiting": session.routed and session.agent is None and session.status != ENDED,
            "working": session.agent is not None and not conversation.closed,
            "end_user_typing": conversation.end_user_typing,
            "attributes": [
                self._attribute(org, k, v) for k, v in session.routing_attributes.items()
            ],
            "entries": [self._entry(entry) for entry in conversation.entries],
            "action_url": f"{_console_url(conversation)}conversations/{conversation.id}",
        }

    def _attribute(self, org: OrgMessaging, key: str, value: str) -> dict[str, str]:
        # A Case Id the org holds links to the Case page: the history the rep reads.
        case = org.org.stored("Case", value) if value.startswith("500") else None
        link = f"/_emulator/orgs/{org.org.id}/cases/{case['Id']}" if case else ""
        return {"label": LABELS.get(key, key), "value": value, "link": link}

    def _entry(self, entry: Entry) -> dict[str, Any]:
        text = ""
        if entry.entry_type == "Message":
            content = entry.payload.get("abstractMessage", {}).get("staticContent", {})
            text = str(content.get("text", ""))
        return {
            "type": entry.entry_type,
            "role": entry.sender.role,
            "who": entry.sender.display_name,
            "text": text,
            "summary": _summary(entry),
            "when": datetime.fromtimestamp(entry.timestamp_ms / 1000, UTC).strftime("%H:%M:%S"),
        }


def _summary(entry: Entry) -> str:
    payload = entry.payload
    if entry.entry_type == "SessionStatusChanged":
        return f"Session {payload.get('sessionStatus')}"
    if entry.entry_type == "RoutingResult":
        failure = payload.get("failureType")
        kind = payload.get("routingType")
        return (
            f"{kind} routing failed: {failure}" if failure != "None" else f"{kind} routing: queued"
        )
    if entry.entry_type == "ParticipantChanged":
        item = payload.get("entries", [{}])[0]
        verb = "joined" if item.get("operation") == "add" else "left"
        return f"{item.get('displayName')} {verb}"
    if entry.entry_type == "CloseConversation":
        return "The customer closed the conversation"
    return entry.entry_type


def _console_url(conversation: Conversation) -> str:
    return f"/_emulator/orgs/{conversation.org_id}/messaging/"


def _default_agent(org: OrgMessaging) -> str:
    try:
        return default_rep(org.org).username
    except RepError:
        return ""
