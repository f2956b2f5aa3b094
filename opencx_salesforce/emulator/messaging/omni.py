"""Omni-Channel, simulated: a new messaging session is routed to the deployment's
queue, where a rep accepts the work, writes, types, transfers it to another queue
or ends the session; what each step sends to the end user's stream.

RoutingResult ``{"recordId", "routingType": "Initial"|"Transfer", "failureType",
"failureReason", "errorMessages", "pendingServiceRoutingId", "isExternallyRouted",
"workOwnerId", "estimatedWaitTime", "routingConfigurationDetails":
{"routingConfigurationType", "queueId"}}``, sent by System as "Platform Integration
User", as is ParticipantChanged [src: official sample app example.json; the
``failureType`` values from its constants.js; ``workOwnerId`` public client code,
UNCONFIRMED]. SessionStatusChanged ``{"sessionId", "sessionStatus"}`` (public
client code, UNCONFIRMED, MIAW.md §4-5).
"""

from __future__ import annotations

import asyncio
import uuid
import zlib
from typing import TYPE_CHECKING

from opencx_salesforce.emulator.messaging.entries import (
    ACTIVE,
    AGENT,
    ENDED,
    SYSTEM,
    WAITING,
    Sender,
    participant_payload,
    text_message_payload,
)
from opencx_salesforce.emulator.messaging.side import Conversation, MessagingSide, Session
from opencx_salesforce.emulator.rep import RepUser, default_rep, rep_users

if TYPE_CHECKING:
    from opencx_salesforce.emulator.org import Org


class OmniError(ValueError):
    """The rep cannot do that now (the message says why); ``status`` for HTTP."""

    def __init__(self, message: str, status: int = 409) -> None:
        super().__init__(message)
        self.status = status


def queue_id(name: str) -> str:
    """A stable Group Id (prefix 00G) for a queue name."""
    return f"00G{zlib.crc32(name.encode()):012d}"[:15]


PLATFORM_USER = "Platform Integration User"


class Omni:
    def __init__(self, side: MessagingSide) -> None:
        self.side = side

    # --- routing ------------------------------------------------------------------------------

    def start_session(self, conversation: Conversation, attributes: dict[str, str]) -> Session:
        """A new messaging session, routed in the background (after the knob's delay)."""
        session = Session(
            id=self.side.state.ids.new("0Mw"),
            routing_attributes=attributes,
            status=WAITING,
            queue=conversation.deployment.queue_name,
        )
        conversation.sessions.append(session)
        self.side.spawn(self._route(conversation, session))
        return session

    async def _route(self, conversation: Conversation, session: Session) -> None:
        faults = self.side.of(self._org(conversation)).faults
        if faults.routing_delay:
            await asyncio.sleep(faults.routing_delay)
        if session is not conversation.session or session.status == ENDED:
            return
        failure = faults.routing_failure
        session.routing_failure = failure
        session.routed = failure is None
        self.side.entry(
            conversation,
            "RoutingResult",
            self._routing_result(session, "Initial"),
            self._system(conversation),
        )
        if failure is None:
            self._status(conversation, WAITING)

    def _routing_result(self, session: Session, routing_type: str) -> dict[str, object]:
        failure = session.routing_failure
        return {
            # The MessagingSession, a 15-character Id as in the sample.
            "recordId": session.id[:15],
            "routingType": routing_type,
            "failureType": failure or "None",
            # "" when routed [src: sample example.json]
            "failureReason": f"Omni-Channel could not route the work ({failure})"
            if failure
            else "",
            "errorMessages": [failure] if failure else [],
            # The PendingServiceRouting of this routing request (prefix 0JR).
            "pendingServiceRoutingId": self.side.state.ids.new("0JR")[:15],
            "isExternallyRouted": False,
            "workOwnerId": session.agent,
            "estimatedWaitTime": {"estimatedWaitTimeInSeconds": -1, "isEWTRequested": False},
            "routingConfigurationDetails": {
                "routingConfigurationType": "QueueRoutingType",
                "queueId": queue_id(session.queue),
            },
        }

    def _system(self, conversation: Conversation) -> Sender:
        """System entries come from the Platform Integration User [src: sample
        example.json]."""
        org = self.side.of(self._org(conversation))
        return Sender(SYSTEM, org.platform_user_id, PLATFORM_USER)

    def _status(self, conversation: Conversation, status: str) -> None:
        session = conversation.session
        session.status = status
        payload = {"sessionId": session.id, "sessionStatus": status}
        self.side.entry(conversation, "SessionStatusChanged", payload, self._system(conversation))

    # --- the rep's hands ----------------------------------------------------------------------

    def agents(self, conversation: Conversation) -> list[RepUser]:
        return rep_users(self._org(conversation))

    def agent(self, conversation: Conversation, username: str | None) -> RepUser:
        org = self._org(conversation)
        if self.side.of(org).faults.no_agent:
            raise OmniError("no rep is online for the queue (fault knob no_agent)")
        if not username:
            return default_rep(org)
        for user in rep_users(org):
            if user.username.lower() == username.lower():
                return user
        raise OmniError(f"no active internal user {username!r} in this org", 400)

    def accept(self, conversation: Conversation, username: str | None) -> RepUser:
        session = self._open(conversation)
        if not session.routed:
            raise OmniError("the work is not in a queue (not routed yet, or routing failed)")
        if session.agent is not None:
            raise OmniError("the work is already accepted")
        agent = self.agent(conversation, username)
        session.agent = agent.user_id
        self.side.entry(
            conversation,
            "ParticipantChanged",
            participant_payload("add", _as_sender(agent)),
            self._system(conversation),
        )
        self._status(conversation, ACTIVE)
        return agent

    def send(self, conversation: Conversation, text: str) -> str:
        agent = self._working(conversation)
        if not text.strip():
            raise OmniError("the message is empty", 400)
        message_id = str(uuid.uuid4())
        if conversation.agent_typing:
            self.typing(conversation, started=False)
        entry = self.side.entry(
            conversation,
            "Message",
            text_message_payload(message_id, text),
            _as_sender(agent),
            identifier=message_id,  # one id for the entry and its message [src: sample]
        )
        return entry.identifier

    def typing(self, conversation: Conversation, *, started: bool) -> None:
        agent = self._working(conversation)
        conversation.agent_typing = started
        entry_type = "TypingStartedIndicator" if started else "TypingStoppedIndicator"
        self.side.entry(conversation, entry_type, {}, _as_sender(agent))

    def transfer(self, conversation: Conversation, queue: str) -> None:
        """Back to a queue (this one or another); another rep accepts it there."""
        agent = self._working(conversation)
        if not queue.strip():
            raise OmniError("name the queue to transfer to", 400)
        session = conversation.session
        conversation.agent_typing = False
        self.side.entry(
            conversation,
            "ParticipantChanged",
            participant_payload("remove", _as_sender(agent)),
            self._system(conversation),
        )
        session.agent = None
        session.queue = queue.strip()
        self.side.entry(
            conversation,
            "RoutingResult",
            self._routing_result(session, "Transfer"),
            self._system(conversation),
        )

    def end(self, conversation: Conversation) -> None:
        """The rep ends the session: no CLOSE_CONVERSATION, which "only triggers when
        the end user closes the conversation" [src: Server-Sent Events Structure]."""
        agent = self._working(conversation)
        conversation.agent_typing = False
        self.side.entry(
            conversation,
            "ParticipantChanged",
            participant_payload("remove", _as_sender(agent)),
            self._system(conversation),
        )
        conversation.session.agent = None
        self._status(conversation, ENDED)

    def end_for_close(self, conversation: Conversation) -> None:
        """The end user closed the conversation: the session ends with it."""
        if not self.side.session_over(conversation):
            conversation.session.agent = None
            self._status(conversation, ENDED)

    # --- checks -------------------------------------------------------------------------------

    def _open(self, conversation: Conversation) -> Session:
        if conversation.closed:
            raise OmniError("the conversation is closed")
        if self.side.session_over(conversation):
            raise OmniError("the messaging session has ended")
        return conversation.session

    def _working(self, conversation: Conversation) -> RepUser:
        session = self._open(conversation)
        if session.agent is None:
            raise OmniError("no rep has accepted the work")
        for user in self.agents(conversation):
            if user.user_id == session.agent:
                return user
        raise OmniError("the rep working it is no longer active")

    def _org(self, conversation: Conversation) -> Org:
        return self.side.state.orgs[conversation.org_id]


def _as_sender(agent: RepUser) -> Sender:
    return Sender(AGENT, agent.user_id, agent.name)
