"""What the plugin does with each event of a live chat's stream, and how a chat
ends: agent messages reach the contact once each, in order; echoes of the
contact's own messages are skipped; the agent ending the session or the
contact closing resolves it; a routing failure or no agent takes the fallback.

Each entry is handled once across host instances: its id is kept in the store
after it was handled (and the host's ``deliver_agent_message`` gets it as the
``external_id``, so a host that dedupes on it shows it once even if an instance
died between delivering and recording).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

import pluggy

from opencx_salesforce.cases.service import CaseService
from opencx_salesforce.clock import Clock
from opencx_salesforce.hookcalls import call_each
from opencx_salesforce.hookspecs import Host, LiveActivityHost
from opencx_salesforce.live import end_retry
from opencx_salesforce.live.client import ScrtClient
from opencx_salesforce.live.errors import LiveError
from opencx_salesforce.live.models import (
    ConversationClosed,
    LiveEvent,
    MessageEvent,
    ParticipantChanged,
    RoutingResult,
    SessionStatusChanged,
    Typing,
)
from opencx_salesforce.live.records import (
    ACTIVE,
    ENDED,
    FALLBACK,
    OPEN_STATES,
    SENT_KEPT,
    STARTING,
    WAITING,
    LiveChat,
    LiveChats,
)
from opencx_salesforce.models import Message, Session
from opencx_salesforce.settings.live import (
    DEFAULT_ACKNOWLEDGEMENT,
    DEFAULT_INTERRUPTED,
    LiveSettings,
)

log = logging.getLogger(__name__)

# Written as an ending finishes: no failure left to show or wait out.
FINISHED: dict[str, Any] = {"end_failures": 0, "end_retry_at": 0.0, "end_error": ""}

AGENT_ROLES = ("Agent", "Chatbot", "Supervisor")


class LiveInbound:
    def __init__(
        self,
        *,
        host: Host,
        pm: pluggy.PluginManager,
        settings: LiveSettings,
        scrt: ScrtClient,
        chats: LiveChats,
        cases: CaseService,
        clock: Clock,
        close_later: Callable[[LiveChat], Awaitable[None]],
    ) -> None:
        self.host = host
        self.clock = clock
        # Queues the job that closes the chat's conversation (the contact left).
        self.close_later = close_later
        self.pm = pm
        self.settings = settings
        self.scrt = scrt
        self.chats = chats
        self.cases = cases

    async def handle(self, chat: LiveChat, event: LiveEvent) -> LiveChat | None:
        """Handle one event; the chat as it is after it (None: it is over)."""
        conversation = chat.conversation_id
        if event.entry_id and await self.chats.delivered(conversation, event.entry_id):
            return chat
        current: LiveChat | None = chat
        if isinstance(event, MessageEvent):
            if event.from_end_user:
                await self.chats.count_echo(chat.session_id)
            elif event.text:
                await self.host.deliver_agent_message(
                    chat.session_id,
                    event.text,
                    event.sender_name or chat.agent or "Agent",
                    f"live:{event.entry_id}",
                )
        elif isinstance(event, ParticipantChanged):
            current = await self._participant(chat, event)
        elif isinstance(event, RoutingResult):
            if event.failed:
                log.warning(
                    "session %s: routing failed (%s): %s",
                    chat.session_id,
                    event.failure_type,
                    event.failure_reason,
                )
                await self.fallback(chat.session_id, "routing_failed")
                current = None
            else:
                await self._activity(chat, "queued", _estimated_wait(event))
        elif isinstance(event, SessionStatusChanged | ConversationClosed):
            if isinstance(event, ConversationClosed) or event.ended:
                await self.end(chat.session_id, close=isinstance(event, SessionStatusChanged))
                current = None
        elif isinstance(event, Typing) and not event.from_end_user:
            kind = "typing_started" if event.started else "typing_stopped"
            await self._activity(chat, kind, event.sender_name or chat.agent)
        if event.entry_id:
            await self.chats.mark_delivered(conversation, event.entry_id)
        return current

    async def _participant(self, chat: LiveChat, event: ParticipantChanged) -> LiveChat:
        if event.participant_role not in AGENT_ROLES:
            return chat
        name = event.participant_name or "Agent"
        if event.joined:
            updated = await self.chats.transition(
                chat.session_id, (WAITING, ACTIVE), state=ACTIVE, agent=name
            )
            await self._activity(chat, "agent_joined", name)
            return updated or chat
        await self._activity(chat, "agent_left", name)
        return chat

    async def _activity(self, chat: LiveChat, kind: str, detail: str) -> None:
        if isinstance(self.host, LiveActivityHost):
            try:
                await self.host.show_live_activity(chat.session_id, kind, detail)
            except Exception:  # the host's display must not stop the stream
                log.exception("host show_live_activity failed for %s", chat.session_id)

    async def to_case(self, session_id: str, messages: list[Message]) -> None:
        """Put the contact's ``messages`` on the Case, each once, however often
        and with whatever more words this is asked again (an ending run again,
        each send job of a chat that is over). An append is known by its first
        message (cases/service.py): asked again with more words, the same first
        message made it the same append and the later words were dropped. So
        the chat keeps what it put on the Case, in parts (LiveChats.claim_for_case):
        a word already in a part is not sent in another, a part is queued again
        until it is marked queued (its append id is its first message: the
        same part twice is one append), and only new words make a new part."""
        if not messages:
            return
        session = await self.host.get_session(session_id) or Session(id=session_id)
        raw = [m.model_dump(mode="json") for m in messages]
        parts = await self.chats.claim_for_case(session_id, raw)
        if parts is None:  # the chat is forgotten: nothing else puts them there
            await self.cases.submit_append(session, messages)
            return
        for part in parts:
            await self.cases.submit_append(session, [Message.model_validate(m) for m in part])
        await self.chats.parts_queued(session_id, [part[0].get("id") for part in parts])

    # --- endings ------------------------------------------------------------------------------
    async def end(self, session_id: str, *, close: bool) -> None:
        """The agent ended the session, or the contact left: resolve the host's
        session; close the conversation so that a later message opens no new
        session without its pre-chat data [MIAW.md §5].

        Words the contact wrote that no rep read go onto the Case, and the
        session is then not resolved over them: those still queued for the
        chat, and those sent whose echo the stream had not brought before the
        end (they reached the conversation after it: a message that does opens
        a new session, without the chat's routing [MIAW.md §5], which the close
        then ends)."""
        # Not while the fallback runs: its own close (or an end racing it) is
        # the fallback's to settle. ``ending`` in the same write: from here on
        # the store says what is left to do, so an end cut short is finished
        # (finish), not left handed off with the words only in the chat.
        chat = await self.chats.transition(
            session_id,
            (STARTING, *OPEN_STATES),
            unless="falling_back",
            state=ENDED,
            ending=True,
            close_at_end=close,
        )
        if chat is None:
            return
        await self.finish(session_id)

    async def finish(self, session_id: str) -> bool:
        """Do what an ending under way (the rep's end, the contact leaving, the
        fallback: ``ending`` in the store) has left to do; True when nothing is
        left. Each step may run twice: a closed conversation stays closed, an
        append lands once by its id, the host takes a resolution again
        (host-implementers.md); so an ending cut short anywhere (a stop, a kill)
        is finished by running this again, as the keeper does. One that fails
        is counted in the chat and tried again later, less and less often
        (end_retry.py), never given up: it holds the contact's unread words and
        the session's resolution."""
        try:
            await self._finish_steps(session_id)
        except Exception as error:
            await self._finish_failed(session_id, error)
            return False
        return True

    async def _finish_steps(self, session_id: str) -> None:
        chat = await self.chats.get(session_id)
        if chat is None or not chat.ending:
            return
        if chat.left and chat.state == ENDED:
            await self._finish_leave(chat)
        elif chat.falling_back:
            await self._finish_fallback(chat)
        elif chat.state == ENDED:
            await self._finish_end(chat)

    async def _finish_failed(self, session_id: str, error: Exception) -> None:
        reason = f"{type(error).__name__}: {error}"
        chat = await self.chats.end_failed(session_id, reason, self.clock.time(), end_retry.delay)
        if chat is None:
            log.warning("session %s: a live chat's ending failed: %s", session_id, reason)
            return
        wait = chat.end_retry_at - self.clock.time()
        if chat.end_failures == 1:
            # The traceback once; then one line a try, and the tries space out.
            log.warning(
                "session %s: the ending of live chat %s failed: %s; tried again in %.0f s",
                session_id,
                chat.conversation_id,
                reason,
                wait,
                exc_info=error,
            )
        else:
            log.warning(
                "session %s: the ending of live chat %s failed again (%d times in a row): %s; "
                "tried again in %.0f s",
                session_id,
                chat.conversation_id,
                chat.end_failures,
                reason,
                wait,
            )

    async def _done(self, chat: LiveChat, state: str) -> None:
        """The ending is finished: nothing left for anyone to do."""
        await self.chats.transition(chat.session_id, (state,), ending=False, **FINISHED)
        if chat.end_failures:
            log.info(
                "session %s: the ending of live chat %s finished after %d failed tries",
                chat.session_id,
                chat.conversation_id,
                chat.end_failures,
            )

    async def _finish_end(self, chat: LiveChat) -> None:
        """The rep ended the chat: close it, the unread words to the Case, and
        resolve the session unless the contact wrote after the end."""
        session_id = chat.session_id
        if chat.close_at_end and chat.token:
            await self.close(chat)
        fresh = await self.chats.get(session_id)  # what was sent meanwhile
        if fresh is None or fresh.conversation_id != chat.conversation_id:
            return  # forgotten, or a new handoff replaced it: nothing of this end left
        chat = fresh
        unread = [part for part in unread_at_end(chat) if part]
        if unread:
            await self.chats.transition(
                session_id, (ENDED,), unless="resolving", wrote_after_end=True
            )
            for part in unread:  # the unsent ones as the chat's send jobs ask (once)
                await self.to_case(session_id, part)
        resolve = await self.chats.transition(
            session_id, (ENDED,), unless="wrote_after_end", resolving=True
        )
        if resolve is not None:
            await self.host.resolve_session(session_id)
        await self._done(chat, ENDED)
        if resolve is None:
            # The contact wrote after the agent ended it: their words went to the
            # Case, which carries on; no resolution over an unread message.
            log.info(
                "session %s: live chat %s ended; the contact wrote after it: the Case carries on",
                session_id,
                chat.conversation_id,
            )
            return
        log.info("session %s: live chat %s ended", session_id, chat.conversation_id)

    async def _finish_leave(self, chat: LiveChat) -> None:
        """The contact left: the conversation is closed by a job; what they
        wrote into a chat no rep had taken goes onto the Case, where the team
        still finds it (the words left unsent go there too, by their send
        jobs); the session is resolved."""
        await self.close_later(chat)
        if chat.sent and not chat.agent:
            await self.to_case(chat.session_id, [Message.model_validate(m) for m in chat.sent])
        await self.host.resolve_session(chat.session_id)
        await self._done(chat, ENDED)

    async def fallback(self, session_id: str, reason: str) -> None:
        """No agent can take the chat: the Case made at handoff carries on. The
        contact is told, and what they wrote into the chat goes onto the Case."""
        # The intent first, with its reason: a fallback cut short (a stop, a
        # kill, a step failing) is finished by the keeper (``ending``); taken
        # again, its steps are repeated harmlessly (the host dedupes the
        # acknowledgement on its external id).
        chat = await self.chats.transition(
            session_id,
            (STARTING, *OPEN_STATES),
            falling_back=True,
            ending=True,
            fallback_reason=reason,
        )
        if chat is None:
            return
        await self.finish(session_id)

    async def _finish_fallback(self, chat: LiveChat) -> None:
        session_id = chat.session_id
        resolve = self.settings.fallback == "resolve"
        if chat.state != FALLBACK:
            if chat.token:
                await self.close(chat)
                # What was sent before the close (a send after it is refused
                # and goes onto the Case by its job).
                chat = await self.chats.get(session_id) or chat
            session = await self.host.get_session(session_id) or Session(id=session_id)
            reason = chat.fallback_reason or "no_agent"
            text = await self._acknowledgement(session, reason, joined=chat.state == ACTIVE)
            await self.host.deliver_agent_message(
                session_id, text, self.settings.team_name, f"live-fallback:{chat.conversation_id}"
            )
            if chat.sent:
                await self.to_case(session_id, [Message.model_validate(m) for m in chat.sent])
            # The resolution, when wanted, is marked in the same write: a stop
            # before it is done leaves it to the keeper, not undone for good.
            moved = await self.chats.transition(
                session_id,
                (STARTING, *OPEN_STATES),
                state=FALLBACK,
                ending=resolve,
                **({} if resolve else FINISHED),
            )
            if moved is None:
                return  # another instance took it meanwhile, or the contact left
            log.warning("session %s: live chat fell back to its Case (%s)", session_id, reason)
            if not resolve:
                return
            chat = moved
        await self.host.resolve_session(session_id)
        await self._done(chat, FALLBACK)

    async def _acknowledgement(self, session: Session, reason: str, *, joined: bool) -> str:
        def failed(plugin: str, hook: str, error: Exception) -> None:
            log.error("plugin %r: %s failed", plugin, hook, exc_info=error)

        answers: list[tuple[str, Any]] = await call_each(
            self.pm,
            "salesforce_live_acknowledgement",
            {"session": session, "reason": reason},
            failed,
        )
        for _, text in answers:
            if isinstance(text, str) and text.strip():
                return text
        if joined and self.settings.acknowledgement == DEFAULT_ACKNOWLEDGEMENT:
            return DEFAULT_INTERRUPTED
        return self.settings.acknowledgement

    async def close(self, chat: LiveChat) -> None:
        """Close the chat's conversation; one closed already (or a token gone)
        leaves nothing to undo."""
        try:
            await self.scrt.close_conversation(chat.token, chat.conversation_id)
        except LiveError as error:  # closed already, or the token is gone: nothing to undo
            log.info("closing conversation %s: %s", chat.conversation_id, error)


def unread_at_end(chat: LiveChat) -> tuple[list[Message], list[Message]]:
    """The contact's words no rep read when the chat ended: those sent whose
    echo had not come (sends go one at a time, in order, and each echo comes
    in the conversation's order, after the start's summary's), and those still
    queued for the chat, each in the order written."""
    sent_ids = {m.get("id") for m in chat.sent}
    late: list[Message] = []
    # Not counted for a chat begun before echoes were, nor once the list of
    # sent messages has lost its oldest.
    if chat.echoes is not None and len(chat.sent) < SENT_KEPT:
        unechoed = len(chat.sent) + 1 - chat.echoes  # + 1: the summary
        if unechoed > 0:
            late = [Message.model_validate(m) for m in chat.sent[-unechoed:]]
    unsent = [Message.model_validate(m) for m in chat.outgoing if m.get("id") not in sent_ids]
    return late, unsent


def _estimated_wait(event: RoutingResult) -> str:
    """The estimated wait in seconds when Omni-Channel gives one ("" otherwise;
    the field is from public client code, UNCONFIRMED, MIAW.md §5)."""
    wait = (event.payload.get("estimatedWaitTime") or {}).get("estimatedWaitTimeInSeconds")
    return str(wait) if isinstance(wait, int) and wait >= 0 else ""
