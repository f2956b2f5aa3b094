"""The live path of a handoff: a chat with a rep in the Salesforce console over
Messaging for In-App and Web, beside the Case path.

At handoff the Case is made first, with the whole transcript, by the existing
Case path (one API call). The conversation is then created with routing
attributes that carry the Case Id (so the agent opens the transcript from the
routed work) and opened with one short summary message. Replaying the
transcript into the chat is not an option: 22 inbound messages a minute per
conversation, and every line would show as written by the customer [MIAW.md
§6-7].

Everything that talks to the SCRT endpoints runs as an outbox job, so a
restart, an outage or the rate limit delays it and loses nothing:

``live_start``    token, conversation, summary message (waits for the Case)
``live_send``     the contact's messages, in the order written, each once
``live_queue``    no agent joined in time: the fallback
``live_close``    the contact left: the conversation is closed
"""

from __future__ import annotations

import logging
import uuid
from typing import Any

import aiohttp
import pluggy

from opencx_salesforce.cases.index import CaseIndex
from opencx_salesforce.cases.service import CaseService
from opencx_salesforce.clock import Clock
from opencx_salesforce.errors import LockBusy, PermanentFailure, RetryLater
from opencx_salesforce.hookspecs import Host
from opencx_salesforce.live.client import ScrtClient, new_conversation_id
from opencx_salesforce.live.errors import (
    BadRequest,
    Forbidden,
    LiveError,
    RateLimited,
    Unauthorized,
)
from opencx_salesforce.live.inbound import LiveInbound
from opencx_salesforce.live.records import (
    ACTIVE,
    ENDED,
    FALLBACK,
    STARTING,
    WAITING,
    LiveChat,
    LiveChats,
)
from opencx_salesforce.live.routing import (
    LIVE,
    choose_path,
    routing_attributes,
    summary_message,
)
from opencx_salesforce.live.stream import Backoff
from opencx_salesforce.live.streams import DEFAULT_BACKOFF, StreamKeeper
from opencx_salesforce.live.tokens import LiveTokens, signer_for, subject_of
from opencx_salesforce.models import HandoffReason, Message, Session
from opencx_salesforce.outbox.queue import Job, Outbox
from opencx_salesforce.settings.live import LiveSettings
from opencx_salesforce.store.lock import store_lock

log = logging.getLogger(__name__)

START_KIND = "live_start"
SEND_KIND = "live_send"
QUEUE_KIND = "live_queue"
CLOSE_KIND = "live_close"
SEND_LOCK_TTL = 60.0
# Message ids sent to the SCRT API are made from the host's message ids, so a
# retried send carries the same id and is kept once.
_IDS = uuid.UUID("6f1d7c0e-3b7a-4c51-9a57-0c3d2f6b8e11")


class LiveService:
    def __init__(
        self,
        *,
        host: Host,
        pm: pluggy.PluginManager,
        settings: LiveSettings,
        http: aiohttp.ClientSession,
        outbox: Outbox,
        cases: CaseService,
        index: CaseIndex,
        clock: Clock,
        backoff: Backoff = DEFAULT_BACKOFF,
    ) -> None:
        self.host = host
        self.pm = pm
        self.settings = settings
        self.outbox = outbox
        self.cases = cases
        self.index = index
        self.clock = clock
        self.chats = LiveChats(host.store)
        self.scrt = ScrtClient(
            http, settings.scrt_url or "", settings.org_id or "", settings.deployment or ""
        )
        self.signer = signer_for(settings)
        self.tokens = LiveTokens(self.scrt, self.chats, self.signer, clock)
        self.inbound = LiveInbound(
            host=host,
            pm=pm,
            settings=settings,
            scrt=self.scrt,
            chats=self.chats,
            cases=cases,
            clock=clock,
            close_later=self._close_later,
        )
        # Streams get their own pool, unbounded: each open chat holds one
        # connection for as long as it lasts, and in the shared pool (100
        # connections) a hundred chats would starve every Salesforce call.
        self.streams_http = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0))
        self.keeper = StreamKeeper(
            http=self.streams_http,
            clock=clock,
            settings=settings,
            scrt=self.scrt,
            chats=self.chats,
            inbound=self.inbound,
            tokens=self.tokens,
            backoff=backoff,
        )

    def register_jobs(self) -> None:
        self.outbox.register(START_KIND, self._start_job)
        self.outbox.register(SEND_KIND, self._send_job)
        self.outbox.register(QUEUE_KIND, self._queue_job)
        self.outbox.register(CLOSE_KIND, self._close_job)

    # --- host events ----------------------------------------------------------------------------
    async def takes(self, session: Session) -> bool:
        """Whether this handoff goes to a live agent."""
        return await choose_path(self.pm, self.settings, session) == LIVE

    async def submit_handoff(self, session: Session, reason: HandoffReason) -> None:
        """The Case first (the transcript, one call), then the chat."""
        await self.cases.submit_handoff(session, reason)
        chat = await self.chats.create(LiveChat(session.id, new_conversation_id(), echoes=0))
        # Job ids name the conversation: a later handoff of the same session is
        # another chat, with jobs of its own.
        await self.outbox.submit(
            START_KIND,
            f"{START_KIND}:{session.id}:{chat.conversation_id}",
            {"session": session.model_dump(mode="json"), "conversation_id": chat.conversation_id},
        )

    async def owns(self, session_id: str) -> bool:
        """Whether the contact's messages go to the chat (else to the Case)."""
        chat = await self.chats.get(session_id)
        return chat is not None and chat.state in (STARTING, WAITING, ACTIVE)

    async def wrote_to_the_case(self, session_id: str) -> None:
        """The contact wrote while the session has no chat going; their words go
        to the Case. A chat the agent has just ended is then not resolved over
        them (unless its resolution began first: the host resolves it)."""
        await self.chats.transition(session_id, (ENDED,), unless="resolving", wrote_after_end=True)

    async def submit_send(self, session: Session, messages: list[Message]) -> None:
        for message in messages:
            # In the chat's queue first (its order), then the job that sends it:
            # a crash between leaves it for the chat's next send job.
            await self.chats.add_outgoing(session.id, message.model_dump(mode="json"))
            await self.outbox.submit(
                SEND_KIND,
                f"{SEND_KIND}:{session.id}:{message.id}",
                {"session_id": session.id, "message": message.model_dump(mode="json")},
            )

    async def leave(self, session: Session) -> None:
        """The contact left: the chat ends, the conversation is closed by a job.
        What they wrote into a chat no rep had taken goes onto the Case, where
        the team still finds it (the words left unsent go there too, by their
        send jobs); the session is resolved. The intent is stored first
        (``ending``, ``left``): a stop or a kill between the steps leaves them
        to the stream keeper (LiveInbound.finish)."""
        chat = await self.chats.transition(
            session.id, (STARTING, WAITING, ACTIVE), state=ENDED, ending=True, left=True
        )
        if chat is None:
            return
        await self.inbound.finish(session.id)

    async def _close_later(self, chat: LiveChat) -> None:
        payload = {"session_id": chat.session_id, "conversation_id": chat.conversation_id}
        await self.outbox.submit(
            CLOSE_KIND, f"{CLOSE_KIND}:{chat.session_id}:{chat.conversation_id}", payload
        )

    # --- jobs -----------------------------------------------------------------------------------
    async def _start_job(self, job: Job) -> None:
        session = Session.model_validate(job.payload["session"])
        chat = await self.chats.get(session.id)
        if chat is None or chat.state != STARTING:
            return  # started already, or ended before it started
        if chat.conversation_id != job.payload.get("conversation_id", chat.conversation_id):
            return  # the job of an earlier chat of this session
        ref = await self.index.session_case(session.id)
        if ref is None and self.clock.time() - job.enqueued_at < self.settings.case_wait_seconds:
            raise RetryLater("the session's Case is not made yet", delay=0.2)
        case_id = ref.case_id if ref is not None else None
        try:
            if not chat.token:
                # Kept before it is used: a retry must not make a second end user.
                token = await self.tokens.first(session)
                chat = (
                    await self.chats.update(
                        session.id,
                        token=token.token,
                        token_expires_at=token.expires_at,
                        verified=token.verified,
                        subject=(subject_of(session) or "") if token.verified else "",
                        last_event_id=token.last_event_id,
                    )
                    or chat
                )
            await self._create(chat, session, case_id)
            await self.scrt.send_message(
                chat.token,
                chat.conversation_id,
                summary_message(session, case_id),
                message_id=str(uuid.uuid5(_IDS, f"{chat.conversation_id}:summary")),
            )
        except (Unauthorized, Forbidden) as error:
            log.warning("session %s: Messaging refused the chat: %s", session.id, error)
            await self.inbound.fallback(session.id, "token_refused")
            return
        except LiveError as error:
            if await self._abandoned(session.id, chat.conversation_id):
                return
            if isinstance(error, BadRequest):
                # Refused for good (a deployment that is not a Custom Client,
                # say): the chat cannot start, the Case carries on. A dead
                # letter left the chat starting, every later word of the
                # contact waiting for it, and the contact told nothing.
                log.warning(
                    "session %s: Messaging refused to start the chat: %s", session.id, error
                )
                await self.inbound.fallback(session.id, "start_refused")
                return
            raise _retry_or_fail(error, job) from error
        started = await self.chats.transition(
            session.id, (STARTING,), state=WAITING, case_id=case_id
        )
        if started is None:
            # The contact left (or the fallback was taken) while it started.
            await self._abandoned(session.id, chat.conversation_id)
            return
        await self.outbox.submit(
            QUEUE_KIND,
            f"{QUEUE_KIND}:{session.id}:{chat.conversation_id}",
            {"session_id": session.id, "conversation_id": chat.conversation_id},
            delay=self.settings.queue_timeout_seconds,
        )
        self.keeper.wake()
        log.info("session %s: live chat %s created", session.id, chat.conversation_id)

    async def _abandoned(self, session_id: str, conversation_id: str) -> bool:
        """Whether the chat this start job makes is no longer wanted (it ended
        or fell back while it started); if so its conversation, if made, is
        closed: no rep is offered a chat nobody is in. (The contact's leaving
        closes it with a job of its own, which finds no conversation yet.)"""
        chat = await self.chats.get(session_id)
        if chat is not None and chat.state == STARTING:
            return False
        if chat is not None and chat.token and chat.conversation_id == conversation_id:
            await self.inbound.close(chat)
        return True

    async def _create(self, chat: LiveChat, session: Session, case_id: str | None) -> None:
        try:
            await self.scrt.create_conversation(
                chat.token,
                chat.conversation_id,
                routing_attributes(session, case_id),
                language=session.language,
            )
        except BadRequest as error:
            if error.status != 409:  # 409: an earlier attempt created it
                raise

    async def _send_job(self, job: Job) -> None:
        session_id = str(job.payload["session_id"])
        message = Message.model_validate(job.payload["message"])
        chat = await self.chats.get(session_id)
        if chat is None:
            # Ended long ago and forgotten (records.KEEP_ENDED_SECONDS): the Case.
            await self._to_case(session_id, message)
            return
        if chat.state == STARTING:
            raise RetryLater("the chat's conversation is not created yet", delay=0.2)
        if chat.state in (ENDED, FALLBACK):
            await self._left_to_case(chat, message)
            return
        try:
            async with store_lock(self.host.store, f"live-send:{session_id}", SEND_LOCK_TTL):
                await self._send_in_order(job, chat, message)
        except LockBusy:
            raise RetryLater("another worker is sending for this chat", delay=0.1) from None
        except _ChatOver as over:
            # It ended as this was sent: Messaging refused the send (the
            # conversation closed); the words go onto the Case.
            await self._left_to_case(over.chat, message)

    async def _to_case(self, session_id: str, message: Message) -> None:
        """Nobody reads the chat: the words go onto the Case (once, whoever
        else of the chat puts them there: LiveInbound.to_case)."""
        await self.inbound.to_case(session_id, [message])

    async def _left_to_case(self, chat: LiveChat, message: Message) -> None:
        """The chat is over with this job's message unsent, or sent. Sent, it is
        in the conversation (and, after a fallback, on the Case with the others
        sent): nothing to do. Unsent, it goes onto the Case with every message
        the chat left unsent, in the order written, as one append: each of their
        jobs asks for the same one, which lands once."""
        sent = {m.get("id") for m in chat.sent}
        if message.id in sent:
            return
        left = [Message.model_validate(m) for m in chat.outgoing if m.get("id") not in sent]
        if all(m.id != message.id for m in left):
            left.append(message)  # queued before the outgoing list existed
        await self.inbound.to_case(chat.session_id, left)

    async def _send_in_order(self, job: Job, chat: LiveChat, message: Message) -> None:
        """Under the chat's send lock: every message queued for the chat, oldest
        first, this job's among them; a job whose message an earlier job sent has
        nothing left to do. Messages queued meanwhile are sent before the lock goes."""
        own = message.model_dump(mode="json")
        current: LiveChat | None = chat
        tried: set[Any] = set()  # sent by this job, or refused by Messaging
        while current is not None:
            sent = {m.get("id") for m in current.sent}
            queue = [m for m in current.outgoing if m.get("id") not in tried]
            if message.id not in sent | tried and all(m.get("id") != message.id for m in queue):
                queue.append(own)  # queued before the outgoing list existed
            if not queue:
                return
            for item in queue:
                tried.add(item.get("id"))
                after = await self._send_one(job, current, item)
                if after is None:
                    if message.id not in sent and item.get("id") != message.id:
                        await self._to_case(chat.session_id, message)
                    return
                current = after
            current = await self.chats.get(chat.session_id)
            if current is not None and not current.is_open:
                return

    async def _send_one(self, job: Job, chat: LiveChat, item: dict[str, Any]) -> LiveChat | None:
        """Send one queued message; the chat as it is after (its token renewed,
        perhaps), or None when the token was refused (the fallback is taken,
        the message goes onto the Case with the others)."""
        message_id = str(uuid.uuid5(_IDS, f"{chat.conversation_id}:{item.get('id')}"))
        renewed = False
        while True:
            try:
                await self.scrt.send_message(
                    chat.token,
                    chat.conversation_id,
                    str(item.get("text", "")),
                    message_id=message_id,
                )
                break
            except Unauthorized as error:
                # A verified user's expired token is renewed and the send tried
                # again, once [MIAW.md §2, "Renew token"]; a guest's cannot be.
                fresh = None if renewed or not chat.verified else await self._renew(chat)
                if fresh is None:
                    await self._refused(chat, item, error)
                    return None
                chat, renewed = fresh, True
            except Forbidden as error:
                await self._refused(chat, item, error)
                return None
            except LiveError as error:
                if not isinstance(error, BadRequest):
                    raise _retry_or_fail(error, job) from error
                current = await self.chats.get(chat.session_id)
                if current is not None and not current.is_open:
                    raise _ChatOver(current) from error
                # Messaging refuses this message itself: it goes onto the Case
                # and out of the chat's queue, which it would otherwise head
                # for good, every later message failing behind it.
                await self._unsendable(chat, item, error)
                return current or chat
        after = await self.chats.add_sent(chat.session_id, item)
        if after is None or not after.is_open or after.ending:
            # The chat ended while this send was in flight: the words reached
            # the conversation after the ending read what was sent (or may
            # have), and nobody reads a conversation being closed. They go onto
            # the Case; an ending that did count them asks for the same part,
            # so they land once (LiveInbound.to_case).
            log.info(
                "session %s: a message reached live chat %s as it ended: it goes onto the Case",
                chat.session_id,
                chat.conversation_id,
            )
            await self._to_case(chat.session_id, Message.model_validate(item))
        return chat

    async def _unsendable(self, chat: LiveChat, item: dict[str, Any], error: LiveError) -> None:
        log.warning(
            "session %s: Messaging refused a message of the chat (%s): it goes onto the Case",
            chat.session_id,
            error,
        )
        message = Message.model_validate(item)
        await self._to_case(chat.session_id, message)
        await self.chats.drop_outgoing(chat.session_id, message.id)

    async def _renew(self, chat: LiveChat) -> LiveChat | None:
        try:
            await self.tokens.renew(chat.session_id)
        except LiveError as error:
            log.warning("session %s: the token could not be renewed: %s", chat.session_id, error)
            return None
        fresh = await self.chats.get(chat.session_id)
        return fresh if fresh is not None and fresh.token != chat.token else None

    async def _refused(self, chat: LiveChat, item: dict[str, Any], error: LiveError) -> None:
        log.warning("session %s: the chat's token was refused: %s", chat.session_id, error)
        await self.chats.add_sent(chat.session_id, item)
        await self.inbound.fallback(chat.session_id, "token_refused")

    async def _queue_job(self, job: Job) -> None:
        chat = await self.chats.get(str(job.payload["session_id"]))
        if (
            chat is not None
            and chat.state == WAITING
            and chat.conversation_id == job.payload.get("conversation_id")
        ):
            await self.inbound.fallback(chat.session_id, "no_agent")

    async def _close_job(self, job: Job) -> None:
        chat = await self.chats.get(str(job.payload["session_id"]))
        if chat is None or not chat.token:
            return
        if chat.conversation_id != job.payload.get("conversation_id"):
            return  # a later chat of this session: not the one the contact left
        try:
            await self.scrt.close_conversation(chat.token, chat.conversation_id)
        except (BadRequest, Unauthorized, Forbidden) as error:
            log.info("closing %s: %s (nothing more to do)", chat.conversation_id, error)
        except LiveError as error:
            raise _retry_or_fail(error, job) from error

    # --- lifecycle ------------------------------------------------------------------------------
    def start(self) -> None:
        self.keeper.start()

    async def stop(self) -> None:
        await self.keeper.stop()
        await self.streams_http.close()

    def jwks(self) -> dict[str, Any] | None:
        """The public keys of the identity signer (None: no key configured)."""
        return self.signer.jwks() if self.signer is not None else None


class _ChatOver(Exception):
    """A send was refused because the chat had ended meanwhile (``chat``, as
    it is now)."""

    def __init__(self, chat: LiveChat) -> None:
        super().__init__(chat.session_id)
        self.chat = chat


def _retry_or_fail(error: LiveError, job: Job) -> Exception:
    """Rate limited or unreachable: later (never dropped); a refusal: dead letter."""
    if isinstance(error, RateLimited):
        return RetryLater(f"rate limited: {error}", delay=error.retry_after)
    if isinstance(error, BadRequest):
        return PermanentFailure(str(error))
    return RetryLater(f"Messaging unreachable: {error}", delay=min(30.0, 2.0**job.attempts))
