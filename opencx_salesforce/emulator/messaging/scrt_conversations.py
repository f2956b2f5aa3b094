"""The conversation endpoints of the Enhanced Chat API, for the end user's client.

=====================================================================  ==================
``POST   /iamessage/api/v2/conversation``                               create (routes a session)
``GET    /iamessage/api/v2/conversation/list``                          the end user's conversations
``POST   /iamessage/api/v2/conversation/{id}/message``                  send a text message
``POST   /iamessage/api/v2/conversation/{id}/entry``                    typing indicators
``GET    /iamessage/api/v2/conversation/{id}/entries``                  list entries
``DELETE /iamessage/api/v2/conversation/{id}?esDeveloperName=``         close
=====================================================================  ==================

[src: MIAW.md §3; API reference ?meta=createConversation, ?meta=closeConversation;
official sample messagingService.js]. Status codes beyond those cited are UNCONFIRMED.
"""

from __future__ import annotations

import re
from typing import Any

from aiohttp import web

from opencx_salesforce.emulator.messaging.entries import END_USER, Sender, text_message_payload
from opencx_salesforce.emulator.messaging.http_errors import (
    ScrtError,
    bad_request,
    json_body,
    text_field,
)
from opencx_salesforce.emulator.messaging.omni import Omni
from opencx_salesforce.emulator.messaging.scrt_auth import TokenRoutes
from opencx_salesforce.emulator.messaging.side import Conversation, MessagingSide, OrgMessaging
from opencx_salesforce.emulator.messaging.tokens import Grant

BASE = "/iamessage/api/v2/conversation"

# "The UUID of the conversation. The UUID must be in lowercase." [src: Server-Sent
# Events .htm]; the message for others is from public client code (UNCONFIRMED).
LOWERCASE_UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
UUID_MESSAGE = "Specify the conversationId in UUID format."

# limit: default 20, at most 50 [src: sample constants.js, MIAW.md §3]
DEFAULT_LIMIT = 20
MAX_LIMIT = 50


class ConversationRoutes:
    def __init__(self, side: MessagingSide, omni: Omni, tokens: TokenRoutes) -> None:
        self.side = side
        self.omni = omni
        self.tokens = tokens

    def add_to(self, app: web.Application) -> None:
        app.router.add_post(BASE, self._safe(self.create))
        app.router.add_get(f"{BASE}/list", self._safe(self.list_conversations))
        app.router.add_post(f"{BASE}/{{id}}/message", self._safe(self.message))
        app.router.add_post(f"{BASE}/{{id}}/entry", self._safe(self.typing))
        app.router.add_get(f"{BASE}/{{id}}/entries", self._safe(self.entries))
        app.router.add_delete(f"{BASE}/{{id}}", self._safe(self.close))

    def _safe(self, handler: Any) -> Any:
        async def handle(request: web.Request) -> web.StreamResponse:
            try:
                response: web.StreamResponse = await handler(request)
                return response
            except ScrtError as error:
                return error.response()

        return handle

    # --- handlers -----------------------------------------------------------------------------

    async def create(self, request: web.Request) -> web.Response:
        grant = self.tokens.grant(request)
        body = await json_body(request)
        conversation_id = text_field(body, "conversationId")
        assert conversation_id is not None
        if not LOWERCASE_UUID.match(conversation_id):
            raise bad_request(UUID_MESSAGE)
        org = self._org(grant)
        name = text_field(body, "esDeveloperName")
        deployment = org.deployments.get(name or "")
        if deployment is None or name != grant.deployment:
            raise bad_request(f"esDeveloperName: {name} is not the token's deployment")
        attributes = _routing_attributes(body.get("routingAttributes"))
        wait = self.side.start_allowed(grant.client_id)
        if wait is not None:
            # 3 conversation starts per page per 30 seconds [src: Help
            # service.miaw_rate_limits.htm]; the status when limited is UNCONFIRMED.
            raise ScrtError(
                429,
                "TOO_MANY_REQUESTS",
                "conversation start limit reached for this client (3 per 30 seconds)",
                {"Retry-After": str(int(wait + 0.999))},
            )
        if conversation_id in org.conversations:
            raise ScrtError(409, "CONFLICT", f"conversation {conversation_id} already exists")
        conversation = Conversation(
            id=conversation_id,
            org_id=org.org.id,
            deployment=deployment,
            subject=grant.subject,
            created_at=self.side.state.clock.now(),
        )
        org.conversations[conversation_id] = conversation
        self.omni.start_session(conversation, attributes)
        # Answers 2xx with no useful body (MIAW.md §3; the sample ignores it).
        return web.json_response({}, status=201)

    async def list_conversations(self, request: web.Request) -> web.Response:
        grant = self.tokens.grant(request)
        include_closed = request.query.get("inclClosedConvs", "false").lower() == "true"
        limit = _limit(request.query.get("limit"))
        mine = [c for c in self._org(grant).conversations.values() if c.subject == grant.subject]
        shown = [c for c in mine if include_closed or not c.closed][:limit]
        # Shape from public client code (UNCONFIRMED, MIAW.md §3).
        return web.json_response(
            {
                "openConversationsFound": sum(not c.closed for c in mine),
                "closedConversationsFound": sum(c.closed for c in mine),
                "conversations": [
                    {
                        "conversationId": c.id,
                        "startTimestamp": int(c.created_at * 1000),
                        "endTimestamp": c.entries[-1].timestamp_ms
                        if c.closed and c.entries
                        else None,
                    }
                    for c in shown
                ],
            }
        )

    async def message(self, request: web.Request) -> web.Response:
        grant = self.tokens.grant(request)
        conversation = self._mine(request, grant, open_only=True)
        body = await json_body(request)
        message_id, text, in_reply_to = _text_message(body.get("message"))
        if any(entry.identifier == message_id for entry in conversation.entries):
            # The same message id again: kept once (UNCONFIRMED).
            return web.json_response({}, status=202)
        wait = self.side.inbound_allowed(conversation)
        if wait is not None:
            # 22 inbound messages a minute a conversation [src: Help
            # service.miaw_rate_limits.htm]; the status when limited is UNCONFIRMED.
            raise ScrtError(
                429,
                "TOO_MANY_REQUESTS",
                "inbound message limit reached for this conversation (22 per minute)",
                {"Retry-After": str(int(wait + 0.999))},
            )
        if self.side.session_over(conversation):
            # A message after the session ended opens a new session, without the
            # original pre-chat data [src: Help service.miaw_handle_sessions.htm],
            # unless this send carries routing attributes for it (MIAW.md §3).
            attributes = _routing_attributes(body.get("routingAttributes"))
            self.omni.start_session(conversation, attributes)
        conversation.end_user_typing = False
        self.side.entry(
            conversation,
            "Message",
            text_message_payload(message_id, text, in_reply_to),
            Sender(END_USER, grant.subject, conversation.end_user_name),
            identifier=message_id,
        )
        # Send answers 202; replies come over the stream (UNCONFIRMED, MIAW.md §3).
        return web.json_response({}, status=202)

    async def typing(self, request: web.Request) -> web.Response:
        grant = self.tokens.grant(request)
        conversation = self._mine(request, grant, open_only=True)
        body = await json_body(request)
        entry_type = body.get("entryType")
        if entry_type not in ("TypingStartedIndicator", "TypingStoppedIndicator"):
            raise bad_request("entryType: TypingStartedIndicator or TypingStoppedIndicator")
        if not self.side.session_over(conversation):
            conversation.end_user_typing = entry_type == "TypingStartedIndicator"
        return web.json_response({}, status=202)

    async def entries(self, request: web.Request) -> web.Response:
        grant = self.tokens.grant(request)
        conversation = self._mine(request, grant, open_only=False)
        query = request.query
        limit = _limit(query.get("limit"))
        start = _int(query.get("startTimestamp"), "startTimestamp")
        end = _int(query.get("endTimestamp"), "endTimestamp")
        direction = query.get("direction", "FromEnd")
        if direction not in ("FromStart", "FromEnd"):
            raise bad_request("direction: FromStart or FromEnd")
        types = {t for t in query.get("entryTypeFilter", "").split(",") if t}
        chosen = [
            entry
            for entry in conversation.entries
            if (start is None or entry.timestamp_ms >= start)
            and (end is None or entry.timestamp_ms <= end)
            and (not types or entry.entry_type in types)
        ]
        # FromEnd: the newest first; FromStart: the oldest first (order UNCONFIRMED).
        chosen = chosen[:limit] if direction == "FromStart" else list(reversed(chosen))[:limit]
        return web.json_response(
            {"conversationEntries": [entry.as_dict(payload_as_string=False) for entry in chosen]}
        )

    async def close(self, request: web.Request) -> web.Response:
        grant = self.tokens.grant(request)
        conversation = self._mine(request, grant, open_only=False)
        if request.query.get("esDeveloperName") != conversation.deployment.api_name:
            raise bad_request("esDeveloperName: required, the conversation's deployment")
        if not conversation.closed:
            self.omni.end_for_close(conversation)
            sender = Sender(END_USER, grant.subject, conversation.end_user_name)
            self.side.entry(conversation, "CloseConversation", {}, sender)
            conversation.closed = True
        return web.Response(status=204)

    # --- the pieces ---------------------------------------------------------------------------

    def _org(self, grant: Grant) -> OrgMessaging:
        org = self.side.org_by_id(grant.org_id)
        if org is None:
            raise ScrtError(401, "UNAUTHORIZED", "the token's org is gone")
        return org

    def _mine(self, request: web.Request, grant: Grant, *, open_only: bool) -> Conversation:
        conversation_id = request.match_info["id"]
        if not LOWERCASE_UUID.match(conversation_id):
            raise bad_request(UUID_MESSAGE)
        conversation = self._org(grant).conversations.get(conversation_id)
        if conversation is None:
            raise ScrtError(404, "NOT_FOUND", f"no conversation {conversation_id}")
        if conversation.subject != grant.subject:
            # Another end user's conversation (public client code: 403, UNCONFIRMED).
            raise ScrtError(403, "FORBIDDEN", "the conversation belongs to another end user")
        if open_only and conversation.closed:
            raise ScrtError(400, "CONVERSATION_CLOSED", "the conversation is closed")
        return conversation


def _routing_attributes(value: Any) -> dict[str, str]:
    """Prechat data for routing: "String is the only option for Data Type" of a
    parameter mapping [src: Help service.miaw_map_messaging_2.htm]."""
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise bad_request("routingAttributes: expected an object")
    for key, item in value.items():
        if not isinstance(item, str):
            raise bad_request(f"routingAttributes.{key}: expected a string")
    return dict(value)


def _text_message(value: Any) -> tuple[str, str, str | None]:
    """``{"id", "messageType": "StaticContentMessage", "staticContent":
    {"formatType": "Text", "text"}, "inReplyToMessageId"?}`` [src: sample
    sendTextMessage]: the id, the text and the message it answers."""
    if not isinstance(value, dict):
        raise bad_request("message: expected an object")
    message_id = value.get("id")
    if not isinstance(message_id, str) or not LOWERCASE_UUID.match(message_id.lower()):
        raise bad_request("message.id: a UUID")
    if value.get("messageType") != "StaticContentMessage":
        raise bad_request('message.messageType: "StaticContentMessage"')
    content = value.get("staticContent")
    if not isinstance(content, dict) or content.get("formatType") != "Text":
        raise bad_request('message.staticContent.formatType: "Text"')
    text = content.get("text")
    if not isinstance(text, str) or not text:
        raise bad_request("message.staticContent.text: a non-empty string")
    in_reply_to = value.get("inReplyToMessageId")
    if in_reply_to is not None and not isinstance(in_reply_to, str):
        raise bad_request("message.inReplyToMessageId: a message id")
    return message_id, text, in_reply_to


def _limit(value: str | None) -> int:
    limit = _int(value, "limit")
    if limit is None:
        return DEFAULT_LIMIT
    if not 1 <= limit <= MAX_LIMIT:
        raise bad_request(f"limit: 1 to {MAX_LIMIT}")
    return limit


def _int(value: str | None, name: str) -> int | None:
    if value is None or value == "":
        return None
    try:
        return int(value)
    except ValueError:
        raise bad_request(f"{name}: expected a whole number") from None
