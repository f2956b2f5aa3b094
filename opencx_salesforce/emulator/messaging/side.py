"""The Messaging side's state and what an end user's client can do to it: per org,
its deployments, fault knobs, conversations and reps; across the emulator, the
access tokens and the event log.

Each conversation holds messaging sessions: a session is routed when it starts
and ends when a rep ends it or the end user closes the conversation. "If a
customer continues to send messages [after End Chat], a new session is created
... the rep loses access to the original pre-chat data." [src: Help
service.miaw_handle_sessions.htm, MIAW.md §5]
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Coroutine
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import aiohttp

from opencx_salesforce.emulator.messaging.deployment import Deployment, default_deployment
from opencx_salesforce.emulator.messaging.entries import (
    ENDED,
    EVENT_OF_ENTRY,
    TRANSIENT_ENTRY_TYPES,
    Entry,
    Sender,
)
from opencx_salesforce.emulator.messaging.events import EventLog
from opencx_salesforce.emulator.messaging.faults import MessagingFaults
from opencx_salesforce.emulator.messaging.tokens import AccessTokens

if TYPE_CHECKING:
    from opencx_salesforce.emulator.org import Org
    from opencx_salesforce.emulator.state import EmulatorState

# "Maximum inbound messages (from the end user to the service rep) allowed per
# minute per conversation: 22" [src: Help service.miaw_rate_limits.htm, "Rate Limits
# for Enhanced Chat"]
INBOUND_MESSAGES_PER_MINUTE = 22
# "Access token requests: 200 requests per minute per org" [same source]; the
# status when limited is UNCONFIRMED (429 here, as for messages).
TOKEN_REQUESTS_PER_MINUTE = 200
# "Start Conversation: Maximum number of conversation start requests per 30
# seconds. 3 per page per 30 seconds" [same source]. A page is one client: here
# one access token's client id (a continuation token, a page reload, is another).
CONVERSATION_STARTS_PER_30_SECONDS = 3
# Clients' recent starts kept before the quiet ones are dropped.
STARTS_KEPT = 1000


@dataclass
class Session:
    """One MessagingSession of a conversation."""

    id: str
    routing_attributes: dict[str, str]
    status: str
    queue: str
    agent: str | None = None  # the User Id of the rep working it
    routing_failure: str | None = None
    routed: bool = False


@dataclass
class Conversation:
    id: str
    org_id: str
    deployment: Deployment
    subject: str  # the end user's subject
    created_at: float
    sessions: list[Session] = field(default_factory=list)
    entries: list[Entry] = field(default_factory=list)
    closed: bool = False
    end_user_typing: bool = False
    agent_typing: bool = False
    inbound: deque[float] = field(default_factory=deque)  # recent end-user sends

    @property
    def session(self) -> Session:
        return self.sessions[-1]

    @property
    def end_user_name(self) -> str:
        attributes = self.sessions[0].routing_attributes if self.sessions else {}
        name = " ".join(filter(None, (attributes.get("_firstName"), attributes.get("_lastName"))))
        return name or "Guest"


@dataclass
class OrgMessaging:
    """One org's Messaging setup and conversations."""

    org: Org
    deployments: dict[str, Deployment] = field(default_factory=dict)
    faults: MessagingFaults = field(default_factory=MessagingFaults)
    conversations: dict[str, Conversation] = field(default_factory=dict)
    token_requests: deque[float] = field(default_factory=deque)  # recent, for the limit
    # The User that System entries (routing results, participant changes) come from:
    # "Platform Integration User", a 15-character User Id as subject [src: official
    # sample app example.json]. The emulator keeps no User record for it.
    platform_user_id: str = ""


class MessagingSide:
    def __init__(self, state: EmulatorState) -> None:
        self.state = state
        self.tokens = AccessTokens()
        self.events = EventLog()
        self._orgs: dict[str, OrgMessaging] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._http: aiohttp.ClientSession | None = None
        # Seconds between keep-alive pings on an idle stream. The sample client gives
        # up after 90 s of silence (MIAW.md §4); the platform's interval is UNCONFIRMED.
        self.heartbeat_seconds = 15.0
        # Bumped to cut every open stream (the admin API's "drop streams").
        self.drop_generation = 0
        # Recent conversation starts by client id (the access token's page).
        self._starts: dict[str, deque[float]] = {}

    def drop_streams(self) -> None:
        self.drop_generation += 1
        self.events.wake_all()

    # --- orgs and deployments -----------------------------------------------------------------

    def of(self, org: Org) -> OrgMessaging:
        """The org's Messaging side; seeded with the default deployment."""
        found = self._orgs.get(org.id)
        if found is None:
            found = OrgMessaging(org, platform_user_id=self.state.ids.new("005")[:15])
            deployment = default_deployment()
            found.deployments[deployment.api_name] = deployment
            self._orgs[org.id] = found
        return found

    def org_by_id(self, org_id: str) -> OrgMessaging | None:
        """By the 15-character org Id [src: MIAW.md §2, ref] or the 18-character one
        (accepted by public clients, UNCONFIRMED)."""
        if len(org_id) not in (15, 18):
            return None
        for org in self.state.orgs.values():
            if org.id == org_id or org.id[:15] == org_id:
                return self.of(org)
        return None

    def add_deployment(self, org: Org, deployment: Deployment) -> Deployment:
        self.of(org).deployments[deployment.api_name] = deployment
        return deployment

    def deployment(self, org: Org, api_name: str | None = None) -> Deployment:
        deployments = self.of(org).deployments
        if api_name is None:
            return next(iter(deployments.values()))
        return deployments[api_name]

    # --- conversations ------------------------------------------------------------------------

    def conversation(self, org: Org, conversation_id: str) -> Conversation | None:
        return self.of(org).conversations.get(conversation_id)

    def record(self, conversation: Conversation, entry: Entry) -> None:
        """Keep the entry (unless transient) and send it to the end user's stream."""
        if entry.entry_type not in TRANSIENT_ENTRY_TYPES:
            conversation.entries.append(entry)
        self.events.append(
            conversation.subject,
            EVENT_OF_ENTRY[entry.entry_type],
            {
                # channelPlatformKey: "Token used to send notifications to this
                # device" [sse .htm]; the emulator has no push device.
                "channelPlatformKey": "",
                # "embedded_messaging" [src: Server-Sent Events .html]
                "channelType": "embedded_messaging",
                "channelAddressIdentifier": conversation.deployment.channel_address_id,
                "conversationId": conversation.id,
                "conversationEntry": entry.as_dict(payload_as_string=True),
            },
        )

    def entry(
        self,
        conversation: Conversation,
        entry_type: str,
        payload: dict[str, Any],
        sender: Sender,
        *,
        identifier: str | None = None,
        client_timestamp_ms: int | None = None,
    ) -> Entry:
        """A new entry of the conversation's current session, recorded and sent."""
        made = Entry(
            entry_type=entry_type,
            payload=payload,
            sender=sender,
            timestamp_ms=self.now_ms(),
            session_id=conversation.session.id,
            client_timestamp_ms=client_timestamp_ms,
        )
        if identifier is not None:
            made.identifier = identifier
        self.record(conversation, made)
        return made

    def inbound_allowed(self, conversation: Conversation) -> float | None:
        """None when the end user may send now, else seconds until they may."""
        return self._take(conversation.inbound, INBOUND_MESSAGES_PER_MINUTE)

    def token_allowed(self, org: OrgMessaging) -> float | None:
        """None when the org may get another access token now, else seconds to wait."""
        return self._take(org.token_requests, TOKEN_REQUESTS_PER_MINUTE)

    def start_allowed(self, client_id: str) -> float | None:
        """None when this client (page) may start a conversation now, else seconds
        to wait."""
        if len(self._starts) > STARTS_KEPT:
            # Pages that started nothing lately are forgotten: no growth for
            # the emulator's life.
            cutoff = self.state.clock.now() - 30.0
            self._starts = {c: w for c, w in self._starts.items() if w and w[-1] > cutoff}
        window = self._starts.setdefault(client_id, deque())
        return self._take(window, CONVERSATION_STARTS_PER_30_SECONDS, seconds=30.0)

    def _take(self, window: deque[float], limit: int, *, seconds: float = 60.0) -> float | None:
        now = self.state.clock.now()
        while window and window[0] <= now - seconds:
            window.popleft()
        if len(window) >= limit:
            return max(1.0, window[0] + seconds - now)
        window.append(now)
        return None

    def session_over(self, conversation: Conversation) -> bool:
        return not conversation.sessions or conversation.session.status == ENDED

    # --- time, tasks, HTTP --------------------------------------------------------------------

    def now_ms(self) -> int:
        return int(self.state.clock.now() * 1000)

    def spawn(self, work: Coroutine[Any, Any, None]) -> None:
        task = asyncio.get_running_loop().create_task(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def settle(self) -> None:
        """Wait for background work (routing) started so far."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    def http(self) -> aiohttp.ClientSession:
        if self._http is None or self._http.closed:
            self._http = aiohttp.ClientSession()
        return self._http

    async def close(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*list(self._tasks), return_exceptions=True)
        if self._http is not None:
            await self._http.close()
