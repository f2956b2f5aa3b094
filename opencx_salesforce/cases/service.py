"""The Case lifecycle: a handoff becomes a Case with its transcript, in one API
call, exactly once; later messages are appended to the same Case.

Exactly once, honestly. The Case is upserted on an external-id field carrying
the session id, so a retried create can never make a second Case. CaseComment has
no custom fields, so nothing like that protects the comments: instead, the
transcript is rendered deterministically, and an attempt after one whose outcome
is unknown (a timeout, a crash after sending) first reads what landed on the Case
(one query) and writes only the bodies that are missing (:mod:`.comments`).
After attempts Salesforce refused whole, with an answer, nothing landed: no read.
Making the Case and linking the session to it is :mod:`.create`; what follows a
closure is in :mod:`.closure`, the Contact link in :mod:`.contacts`.

One call per handoff, less under load: :mod:`.plan` puts the Case upsert, its
comments and the Contact lookup into one composite request, and :mod:`.batch`
sends the handoffs that are ready together as graphs of one composite/graph request.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
from collections.abc import Awaitable, Mapping, Sequence
from typing import Any

import pluggy

from opencx_salesforce.cases.closure import hand_back_to_bot
from opencx_salesforce.cases.comments import TranscriptComments
from opencx_salesforce.cases.create import Attempt, CaseCreator, Outcome
from opencx_salesforce.cases.head_start import HeadStarts
from opencx_salesforce.cases.index import CaseIndex, SessionCase
from opencx_salesforce.cases.transcript import render
from opencx_salesforce.clock import SYSTEM_CLOCK, Clock
from opencx_salesforce.errors import LockBusy, PermanentFailure, RetryLater
from opencx_salesforce.hookspecs import Host
from opencx_salesforce.models import HandoffReason, Message, Role, Session, detached_copy
from opencx_salesforce.outbox.queue import EncodedJSON, Job, Outbox, Submitted
from opencx_salesforce.salesforce.client import SalesforceClient
from opencx_salesforce.session_json import session_json
from opencx_salesforce.settings import SalesforceSettings
from opencx_salesforce.store.lock import LockClaim, store_lock

log = logging.getLogger(__name__)

# How long one worker may hold a contact's lock: longer than any attempt takes.
LOCK_TTL = 120.0
# The outbox job kinds this area registers (see :meth:`CaseService.register_jobs`).
HANDOFF_KIND = "handoff"
APPEND_KIND = "append"
# How long an append waits for a Case whose handoff it cannot see queued.
APPEND_GRACE = 300.0
# An append that finds no Case yet looks again after these many seconds, times
# its attempts so far, up to the most (:func:`_case_wait`).
CASE_WAIT_FIRST = 0.5
CASE_WAIT_MAX = 5.0


class CaseService:
    def __init__(
        self,
        *,
        host: Host,
        client: SalesforceClient,
        settings: SalesforceSettings,
        index: CaseIndex,
        pm: pluggy.PluginManager,
        outbox: Outbox,
        clock: Clock = SYSTEM_CLOCK,
    ) -> None:
        self._host = host
        self._client = client
        self._settings = settings
        self._index = index
        self._pm = pm
        self._outbox = outbox
        self._clock = clock
        self._comments = TranscriptComments(client=client, settings=settings, index=index)
        self._creator = CaseCreator(
            host=host, client=client, settings=settings, index=index, pm=pm, comments=self._comments
        )
        # Handoffs ready while a request is in flight go together (cases/batch.py).
        self.batcher = self._creator.batcher
        # Appends ready while one is in flight go together (cases/append_batch.py).
        self.appends = self._comments.appends
        self.head_starts = HeadStarts()

    async def close(self) -> None:
        """Once the outbox has stopped: the batched requests stop too (see
        :meth:`.batch.HandoffBatcher.close`), before the HTTP session closes."""
        await self.batcher.close()
        await self.appends.close()

    def register_jobs(self) -> None:
        """Register this area's job kinds on the outbox."""
        self._outbox.register(HANDOFF_KIND, self._handoff_job)
        self._outbox.register(APPEND_KIND, self._append_job)

    async def _handoff_job(self, job: Job) -> None:
        await self.handle_handoff(job)

    async def _append_job(self, job: Job) -> None:
        await self.handle_append(job)

    # --- host events: persisted, then done by a worker -----------------------------------
    async def submit_handoff(self, session: Session, reason: HandoffReason) -> None:
        """Queue the handoff: one store write. While the job is in the outbox the
        handoff is pending (see :meth:`_handoff_queued`); no mark of its own.
        When the job will start in this process, its first writes begin beside
        it (:mod:`.head_start`)."""
        item_id = _handoff_item(session.id)
        head = None
        if self._outbox.may_run_here():
            # The job's session as queued: the host may change its object later.
            queued = detached_copy(session)
            head = self.head_starts.begin(
                item_id,
                queued,
                lambda: LockClaim.start(self._host.store, _lock_name(queued), LOCK_TTL),
                lambda: self._creator.remember_transcript(queued),
            )
        submitted = None
        try:
            submitted = await self._outbox.submit(
                HANDOFF_KIND,
                item_id,
                # The session in its own fast encoding, written into the job as
                # it is: not a tree json.dumps walks, nor a string it escapes
                # again (the transcript is most of the job).
                {"session": _encoded(session), "reason": reason.model_dump()},
            )
        finally:
            if head is not None and submitted is not Submitted.STARTED_HERE:
                # Not this submit's job to take it (queued, a duplicate, an error).
                self.head_starts.give_up(item_id, head)

    async def submit_append(self, session: Session, messages: list[Message]) -> None:
        """Queue the contact's new messages for the session's Case. The same
        messages asked again (a host replaying its hook call) are the same
        append, which lands once (:func:`_append_item`)."""
        if not messages:
            return
        item_id = _append_item(session.id, messages)
        await self._outbox.submit(
            APPEND_KIND,
            item_id,
            {
                "session_id": session.id,
                "messages": [m.model_dump(mode="json") for m in messages],
                # The order the contact wrote in, which the appends keep.
                "seq": await self._index.append_seq(session.id, item_id),
            },
        )

    # --- jobs --------------------------------------------------------------------------
    async def handle_handoff(self, job: Job) -> Outcome | None:
        head = self.head_starts.take(job.item_id, job.attempts)
        session = head.session if head is not None else _session_of(job.payload)
        key = session.contact.key()
        if head is not None:  # begun with the job by the host's hook call
            claim, transcript = head.claim, head.transcript
        else:
            # The transcript is remembered as the plugin's own while the
            # contact's lock is taken: two store writes in one wait, not one
            # after the other (remembering bodies not sent after all is harmless).
            claim = None
            transcript = asyncio.ensure_future(self._creator.remember_transcript(session))
        try:
            async with store_lock(self._host.store, _lock_name(session), LOCK_TTL, claim=claim):
                # Read what landed first only when an earlier attempt may have
                # written something: not after attempts Salesforce refused whole.
                clean = await self._index.nothing_landed_before(job.item_id, job.attempts)
                attempt = Attempt(job, read_first=not clean)
                return await self._handoff(session, key, attempt, transcript)
        except LockBusy:
            # Nothing was sent: this attempt leaves what the earlier ones did.
            if await self._index.nothing_landed_before(job.item_id, job.attempts):
                await self._index.mark_nothing_landed(job.item_id, job.attempts)
            raise RetryLater("another worker is handling this contact", delay=0.2) from None
        finally:
            await _settle(transcript)

    async def handle_append(self, job: Job) -> Outcome | None:
        session_id = job.payload["session_id"]
        messages = [Message.model_validate(m) for m in job.payload["messages"]]
        ref = await self._index.session_case(session_id)
        if ref is None and (purged := await self._index.purged_session(session_id)) is not None:
            # Its Case closed over retention_days ago and its keys are gone:
            # the words go where a closed Case's go (a follow-up Case, or the bot).
            outcome = await self._to_closed_case(job, session_id, messages, purged)
            await self._index.mark_append_landed(job.item_id)
            return outcome
        if ref is None:
            young = job.age < APPEND_GRACE  # the store's measure: no instance's clock
            if young or await self._handoff_queued(session_id):
                # The handoff is still queued (held by an outage, say), or may
                # be: wait for its Case.
                raise RetryLater("the session's Case is not created yet", _case_wait(job))
            raise PermanentFailure(
                f"session {session_id} has no Salesforce Case to append to "
                "(was its handoff dead-lettered?)"
            )
        seq = job.payload.get("seq")
        if isinstance(seq, int):
            # Appends of one conversation land in the order the contact wrote:
            # this one waits for the one before it (a bounded wait: a message
            # whose job was lost or buried holds the others back no longer than
            # APPEND_GRACE; then order gives way, nothing is dropped).
            done = await self._index.appended_upto(session_id)
            if seq > done + 1 and await self._earlier_append_queued(session_id, seq, job):
                raise RetryLater(
                    "an earlier message of this conversation is not on the Case yet", 0.2
                )
        if await self._index.append_landed(job.item_id):
            return None  # the same messages again (a host replaying its hook call)
        outcome = await self._append(job, session_id, messages, ref)
        await self._index.mark_append_landed(job.item_id)
        if isinstance(seq, int):
            await self._index.mark_appended(session_id, seq)
        return outcome

    async def _handoff_queued(self, session_id: str) -> bool:
        """Whether the session's handoff is still in the outbox (ready, waiting
        or in progress; not dead-lettered). Its job is the pending mark: it is
        written with the handoff and removed only after the Case is linked. Read
        only for an append older than APPEND_GRACE that finds no Case: rare."""
        item_id = _handoff_item(session_id)
        return any(job.item_id == item_id for job in await self._outbox.pending(item_id))

    async def _earlier_append_queued(self, session_id: str, seq: int, job: Job) -> bool:
        """Whether an earlier append of the session is still in the outbox. Only
        a queued one is waited for: one that was never queued (its process died
        first) must not hold the others back."""
        # Read only when an append finds itself ahead of an earlier one: rare.
        queued = await self._outbox.pending(f"{APPEND_KIND}:{session_id}:")
        seqs = [j.payload.get("seq") for j in queued]
        return any(isinstance(other, int) and other < seq for other in seqs)

    async def _append(
        self, job: Job, session_id: str, messages: list[Message], ref: SessionCase
    ) -> Outcome | None:
        entry = await self._index.case(ref.case_id)
        if entry is not None and entry.closed:
            return await self._to_closed_case(job, session_id, messages, ref)
        session = await self._host.get_session(session_id)
        title = _wrote_again_title(session_id, messages)
        # The host may have dropped the session; its words are in the job.
        bodies = await render(self._pm, session or Session(id=session_id), messages, title)
        written, closed = await self._comments.append_and_read_state(
            ref.case_id, bodies, job.is_retry
        )
        if closed:
            # The rep closed the Case before (or while) these words landed: no one
            # reads a closed Case, so they go where a person will (issue #15.1).
            session = _present(session, session_id)
            if await self._back_to_bot(session_id, ref):
                return None
            return await self._follow_up(job, session, messages, ref)
        return Outcome(ref.case_id, created=False, comments_written=written)

    async def _back_to_bot(self, session_id: str, ref: SessionCase) -> bool:
        """``after_closure = "back_to_bot"``: the session goes back to the bot
        (True), else the words make a follow-up Case (False)."""
        return await hand_back_to_bot(
            settings=self._settings,
            host=self._host,
            index=self._index,
            session_id=session_id,
            ref=ref,
        )

    async def _to_closed_case(
        self, job: Job, session_id: str, messages: list[Message], ref: SessionCase
    ) -> Outcome | None:
        """The contact wrote after the session's Case closed: back to the bot
        (``after_closure``), or a new Case linked to the old one."""
        session = _present(await self._host.get_session(session_id), session_id)
        if await self._back_to_bot(session_id, ref):
            return None
        snapshot = session.model_copy(update={"messages": messages})
        return await self.handle_handoff(
            Job(
                HANDOFF_KIND,
                job.item_id,
                {"session_json": snapshot.model_dump_json()},
                job.attempts,
                job.enqueued_at,
                job.age,
            )
        )

    async def _follow_up(
        self, job: Job, session: Session, messages: list[Message], ref: SessionCase
    ) -> Outcome:
        """A follow-up Case linked to the closed one (``ParentId``) carrying the
        contact's new words; the session then points at it. The follow-up's
        external id is the session's next generation, as for any Case made after
        a closure, so a retry finds it instead of making another."""
        snapshot = session.model_copy(update={"messages": messages})
        key = session.contact.key()
        try:
            async with store_lock(self._host.store, _lock_name(session), LOCK_TTL):
                outcome = await self._creator.create(
                    snapshot,
                    key,
                    ref.generation + 1,
                    ref.case_id,
                    Attempt(job, read_first=job.is_retry),
                )
        except LockBusy:
            raise RetryLater("another worker is handling this contact", delay=0.2) from None
        log.info(
            "session %s wrote after Case %s closed: follow-up Case %s",
            session.id,
            ref.case_id,
            outcome.case_id,
        )
        return outcome

    # --- handoff -------------------------------------------------------------------------
    async def _handoff(
        self,
        session: Session,
        key: str | None,
        attempt: Attempt,
        transcript: Awaitable[list[str]] | None = None,
    ) -> Outcome | None:
        # The index entries it needs, in one or two store calls (get_many).
        reads = await self._index.handoff_reads(session.id, key)
        ref, entry = reads.session_case, reads.session_case_entry
        if (
            ref is not None
            and not (entry and entry.closed)
            and not await self._handed_back(session.id, ref)
        ):
            resolved_from = await self._index.resolved_from(session.id)
            if resolved_from is not None and resolved_from[0] == ref.case_id:
                return await self._after_reopening(session, ref, resolved_from[1], attempt)
            # Already done: a duplicate handoff changes nothing in Salesforce. The
            # session's fields are written again (idempotent): a worker that died
            # between the index and the host's session may have left them unset.
            await self._creator.set_session_fields(session.id, ref.case_id)
            return None

        previous = reads.contact_case
        if previous is not None and not previous[1] and (ref is None or ref.case_id != previous[0]):
            return await self._join_open_case(session, key, previous[0], attempt.read_first)

        # A session whose keys retention purged: the next generation, so that
        # the upsert makes a new Case rather than landing on the old one.
        last = ref if ref is not None else reads.purged
        generation = last.generation + 1 if last is not None else 1
        parent = ref.case_id if ref is not None else (previous[0] if previous else None)
        if parent is None and last is not None:
            parent = last.case_id
        # A handoff's own job only: a closed Case's append makes its follow-up
        # through here too, with its own words, which must stay.
        if reads.appends_queued and attempt.job.item_id == _handoff_item(session.id):
            session, transcript = await self._without_queued_appends(session, transcript)
        return await self._creator.create(
            session, key, generation, parent, attempt, transcript, reads.contact_match
        )

    async def _without_queued_appends(
        self, session: Session, transcript: Awaitable[list[str]] | None
    ) -> tuple[Session, Awaitable[list[str]] | None]:
        """The session without the messages an append job already carries. A
        host that replays its hook call after a crash hands the session off as
        it is then (host-implementers.md), with what the contact wrote after
        the handoff, whose appends wait for this very Case: the words landed
        in the transcript and again in their append. Read only for a session
        that ever had appends queued."""
        queued = {
            message.get("id")
            for job in await self._outbox.pending(f"{APPEND_KIND}:{session.id}:")
            for message in job.payload.get("messages", [])
            if isinstance(message, dict)
        }
        if not any(m.id in queued for m in session.messages):
            return session, transcript
        kept = [m for m in session.messages if m.id not in queued]
        log.info(
            "session %s: %d messages left out of the transcript: their appends carry them",
            session.id,
            len(session.messages) - len(kept),
        )
        # Its transcript is rendered again, by the Case's creation.
        return session.model_copy(update={"messages": kept}), None

    async def _after_reopening(
        self, session: Session, ref: SessionCase, after: str | None, attempt: Attempt
    ) -> Outcome:
        """The session was resolved when its Case closed; a rep reopened the
        Case, and the bot hands the conversation off again. The words written
        since the closing (to the bot, the session resolved) go on that Case,
        as an append would have put them; a handoff taken for a duplicate lost
        them. The rep's replies the session got meanwhile came from the Case:
        they are not written back."""
        since = _written_since(session.messages, after)
        written = 0
        if since:
            title = _wrote_again_title(session.id, since)
            bodies = await render(self._pm, session, since, title)
            written = await self._comments.append(ref.case_id, bodies, attempt.read_first)
        await self._creator.set_session_fields(session.id, ref.case_id)
        await self._index.forget_resolved_from(session.id)
        log.info(
            "session %s handed off again to reopened Case %s (%d messages)",
            session.id,
            ref.case_id,
            len(since),
        )
        return Outcome(ref.case_id, created=False, comments_written=written)

    async def _handed_back(self, session_id: str, ref: SessionCase) -> bool:
        """Whether the session was given back to the bot from its Case
        (``after_closure``): that Case is closed even when its closure's
        notification has not come (the append's own read found it), so a new
        handoff makes a new Case. Read only for a session that has a Case."""
        return await self._index.handed_back_from(session_id) == ref.case_id

    async def _join_open_case(
        self, session: Session, key: str | None, case_id: str, is_retry: bool
    ) -> Outcome:
        """The same contact already has an open Case: this conversation goes there."""
        title = f"New conversation from this customer · conversation {session.id}"
        bodies = await render(self._pm, session, session.messages, title)
        written = await self._comments.append(case_id, bodies, is_retry)
        await self._creator.link(session.id, SessionCase(case_id, None), key)
        return Outcome(case_id, created=False, comments_written=written)


async def _settle(task: asyncio.Future[Any]) -> None:
    """Let a side write finish, its outcome seen: whoever needed its result has
    awaited it (and met its error); one nobody needed is only waited for."""
    with contextlib.suppress(Exception):
        await asyncio.shield(task)


def _wrote_again_title(session_id: str, messages: Sequence[Message]) -> str:
    """The title of the comments that carry a contact's later words."""
    return f"Customer wrote again · conversation {session_id} · {messages[0].id}"


def _written_since(messages: Sequence[Message], after: str | None) -> list[Message]:
    """The messages after the one with id ``after`` (all of them when it is
    None or gone: words written twice rather than lost), but for the agent
    messages a plugin delivered from outside (a rep's replies, from the Case)."""
    ids = [m.id for m in messages]
    start = ids.index(after) + 1 if after in ids else 0
    return [m for m in messages[start:] if not (m.role == Role.AGENT and m.external_id is not None)]


def _case_wait(job: Job) -> float:
    """How long an append waits before it looks for its Case again: half a
    second at first (the handoff beside it is about done), then longer, up to
    5 s. A handoff held by a dead instance keeps its lease two minutes; looking
    every half second for all of it was most of a surviving instance's work."""
    return min(CASE_WAIT_FIRST * max(1, job.attempts), CASE_WAIT_MAX)


def _present(session: Session | None, session_id: str) -> Session:
    """The host's session, which words for a closed Case need (a follow-up Case
    is made from it)."""
    if session is None:
        raise PermanentFailure(f"session {session_id} is gone from the host")
    return session


def _lock_name(session: Session) -> str:
    """One worker at a time per contact (or per session, for one without a key),
    so two instances never make two Cases for one person."""
    return f"contact:{session.contact.key() or session.id}"


def _append_item(session_id: str, messages: Sequence[Message]) -> str:
    """The outbox item id of an append: it names exactly the messages it
    carries. It named only the first, so the same first message with more
    words after it (an ending run again that found more, a host replaying a
    call with more messages) was taken for the append already queued or
    landed, and the later words never reached the Case. One message keeps the
    id it always had (appends queued by an earlier release stay the same item);
    several add their count and a digest of their ids. Callers that may ask
    again with more words must not ask for a word twice in two different sets
    (a live chat keeps its parts: live/inbound.py ``to_case``)."""
    first = f"{APPEND_KIND}:{session_id}:{messages[0].id}"
    if len(messages) == 1:
        return first
    ids = "\n".join(m.id for m in messages).encode()
    return f"{first}:{len(messages)}:{hashlib.sha256(ids).hexdigest()[:16]}"


def _handoff_item(session_id: str) -> str:
    """The outbox item id of a session's handoff: one at a time per session."""
    return f"{HANDOFF_KIND}:{session_id}"


def _encoded(session: Session) -> EncodedJSON:
    # The host wrote these very messages a moment ago: their JSON is kept.
    return EncodedJSON(session_json(session))


def _session_of(payload: Mapping[str, Any]) -> Session:
    """A handoff job's session (``session_json``, the session as a string: a job
    queued by an earlier version)."""
    if "session_json" in payload:
        return Session.model_validate_json(payload["session_json"])
    return Session.model_validate(payload["session"])
