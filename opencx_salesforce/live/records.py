"""What the plugin keeps in the store for each live chat: the conversation, its
access token, the stream's ``Last-Event-Id``, its state; the entries already
delivered to the contact; and the lease on each conversation's stream.

Every host instance shares these (the store is the host's), so a stream picked
up by another instance resumes where the last one stopped, and an entry is
delivered once whichever instance reads it.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, fields, replace
from typing import Any

from opencx_salesforce.store import namespaces
from opencx_salesforce.store.base import ReadsMany, Store
from opencx_salesforce.store.cells import read_json, update_json

NS = namespaces.LIVE

STARTING = "starting"  # queued: no conversation yet
WAITING = "waiting"  # conversation created, in the queue
ACTIVE = "active"  # an agent joined
ENDED = "ended"  # the agent ended it, or the contact left
FALLBACK = "fallback"  # no agent could take it: the Case carries on
OPEN_STATES = (WAITING, ACTIVE)
STATES = (STARTING, WAITING, ACTIVE, ENDED, FALLBACK)
CLOSED_STATES = (ENDED, FALLBACK)
# How long an ended chat stays in the store: its queued send jobs still find it
# (and put the contact's words on the Case); then the stream keeper forgets it.
KEEP_ENDED_SECONDS = 86400.0
# The contact's sent messages a chat keeps (the newest).
SENT_KEPT = 200
# How long an entry's "delivered" mark stays: far past any replay or backfill,
# which start from the stream's last event.
ENTRY_MARK_SECONDS = 7 * 86400.0


@dataclass(frozen=True)
class LiveChat:
    session_id: str
    conversation_id: str
    state: str = STARTING
    token: str = ""
    token_expires_at: float | None = None
    verified: bool = False
    subject: str = ""  # the verified user's identity JWT subject (the contact key)
    last_event_id: str = ""
    last_entry_ms: int = 0  # the newest entry handled: where a backfill starts
    case_id: str | None = None
    agent: str = ""
    # The contact's messages sent into the conversation, for the Case should the
    # fallback be taken before an agent read them.
    sent: list[dict[str, Any]] = field(default_factory=list)
    # The contact's messages queued for the conversation, in the order written:
    # a send job sends them all, oldest first (no scan of the outbox for order).
    outgoing: list[dict[str, Any]] = field(default_factory=list)
    ended_at: float = 0.0  # wall clock, when it became ended or fallback
    # The fallback has begun: it closes the conversation itself, and the stream's
    # word of that close must not be taken for the agent ending the chat.
    falling_back: bool = False
    fallback_reason: str = ""  # why, for the contact's acknowledgement
    # After the agent ended the chat: the contact wrote again before the session
    # was resolved (their words went to the Case, which then carries on), or the
    # resolution began first. Whichever is marked first wins (``transition``'s ``unless``).
    wrote_after_end: bool = False
    resolving: bool = False
    # An ending under way whose steps are not all done: the agent ended the
    # chat (or the contact closed it: close the conversation, the unread words
    # to the Case, resolve), the contact left (``left``: the close job, the
    # words no rep took to the Case, resolve), or the fallback (``falling_back``:
    # close, tell the contact, the words to the Case, the state, and resolve
    # when so configured). Set with the intent, cleared last, so that an ending
    # cut short (a reader cancelled, an instance stopped or killed, a step
    # failing) is finished by whoever holds the stream next
    # (streams.StreamKeeper, inbound.LiveInbound.finish). ``close_at_end``: the
    # end closes the conversation (not when the contact closed it).
    ending: bool = False
    close_at_end: bool = False
    left: bool = False
    # An ending that failed (``ending`` still set): how many times in a row, the
    # wall time before which no instance tries again (end_retry.py), and why,
    # for the operator (the settings page, status.json, the metrics).
    end_failures: int = 0
    end_retry_at: float = 0.0
    end_error: str = ""
    # The contact's own messages the stream has echoed back [MIAW.md §4], the
    # start's summary among them: the ones sent and not yet echoed when the
    # agent ends the chat reached it after the end. None: a chat begun before
    # they were counted.
    echoes: int | None = None
    # The contact's words this chat put on the Case (its endings, its send
    # jobs), as the parts each went in: ``{"messages": [...], "queued": bool}``.
    # A part is written here before its append is queued, and its words are
    # never in another part: an ending run again that finds more words queues
    # only those (LiveChats.claim_for_case).
    case_parts: list[dict[str, Any]] = field(default_factory=list)

    @property
    def is_open(self) -> bool:
        return self.state in OPEN_STATES

    def with_(self, **changes: Any) -> LiveChat:
        return replace(self, **changes)


def _key(session_id: str) -> str:
    return f"chat:{session_id}"


class LiveChats:
    """The live chats in the store, by session id."""

    def __init__(self, store: Store) -> None:
        self.store = store

    async def get(self, session_id: str) -> LiveChat | None:
        raw = await read_json(self.store, NS, _key(session_id))
        return None if raw is None else _chat(raw)

    async def create(self, chat: LiveChat) -> LiveChat:
        """Store a new chat for the session, unless it has one going (a repeated
        handoff): the chat the session has now. A chat that ended is replaced (a
        new handoff after the last one was resolved)."""
        new = asdict(chat)

        def change(current: Any) -> Any:
            if current is not None and current.get("state") not in (ENDED, FALLBACK):
                return current
            return new

        stored = await update_json(self.store, NS, _key(chat.session_id), change)
        return _chat(stored)

    async def update(self, session_id: str, **changes: Any) -> LiveChat | None:
        def change(current: Any) -> Any:
            if current is None:
                return None
            return {**current, **changes}

        new = await update_json(self.store, NS, _key(session_id), change)
        return None if new is None else _chat(new)

    async def transition(
        self,
        session_id: str,
        from_states: tuple[str, ...],
        *,
        unless: str | None = None,
        **changes: Any,
    ) -> LiveChat | None:
        """Change the chat only if its state is one of ``from_states`` and its
        flag ``unless`` (if named) is not set, atomically across instances; the
        chat as it was changed, or None if it was not."""
        acted = False

        if changes.get("state") in CLOSED_STATES:
            changes = {"ended_at": time.time(), **changes}

        def change(current: Any) -> Any:
            nonlocal acted
            acted = (
                current is not None
                and current.get("state") in from_states
                and not (unless and current.get(unless))
            )
            return {**current, **changes} if acted else current

        new = await update_json(self.store, NS, _key(session_id), change)
        return _chat(new) if acted and new is not None else None

    async def end_failed(
        self, session_id: str, error: str, now: float, retry_in: Callable[[int], float]
    ) -> LiveChat | None:
        """Count a failure of the chat's end (still under way) and set when to
        try again, ``retry_in(failures)`` seconds after ``now``; the chat as it
        is now (None: its end is no longer under way)."""

        def change(current: Any) -> Any:
            if current is None or not current.get("ending"):
                return current
            failures = int(current.get("end_failures") or 0) + 1
            return {
                **current,
                "end_failures": failures,
                "end_retry_at": now + retry_in(failures),
                "end_error": error[:300],
            }

        new = await update_json(self.store, NS, _key(session_id), change)
        return None if new is None or not new.get("ending") else _chat(new)

    async def add_outgoing(self, session_id: str, message: dict[str, Any]) -> None:
        """Queue a contact message for the conversation (once, after the others)."""

        def change(current: Any) -> Any:
            if current is None:
                return None
            known = {m.get("id") for m in (*current.get("outgoing", []), *current.get("sent", []))}
            if message.get("id") in known:
                return current
            return {**current, "outgoing": [*current.get("outgoing", []), message]}

        await update_json(self.store, NS, _key(session_id), change)

    async def add_sent(self, session_id: str, message: dict[str, Any]) -> LiveChat | None:
        """The message went into the conversation: out of ``outgoing``, into
        ``sent``; the chat as it is then (None: gone)."""

        def change(current: Any) -> Any:
            if current is None:
                return None
            mid = message.get("id")
            sent = [m for m in current.get("sent", []) if m.get("id") != mid]
            outgoing = [m for m in current.get("outgoing", []) if m.get("id") != mid]
            return {**current, "sent": [*sent, message][-SENT_KEPT:], "outgoing": outgoing}

        new = await update_json(self.store, NS, _key(session_id), change)
        return None if new is None else _chat(new)

    async def claim_for_case(
        self, session_id: str, messages: list[dict[str, Any]]
    ) -> list[list[dict[str, Any]]] | None:
        """The appends that put ``messages`` on the Case: the parts already
        made that hold some of them, and a new part for those no part holds
        (kept in the chat first, so a crash before its append is queued leaves
        it to the next caller); parts not yet queued come too. Oldest first.
        None: the chat is gone (nothing to keep the parts in)."""
        parts: list[list[dict[str, Any]]] | None = None

        def change(current: Any) -> Any:
            nonlocal parts
            if current is None:
                parts = None
                return None
            kept = list(current.get("case_parts") or [])
            known = {m.get("id") for part in kept for m in part["messages"]}
            new = [m for m in messages if m.get("id") not in known]
            if new:
                kept.append({"messages": new, "queued": False})
            wanted = {m.get("id") for m in messages}
            parts = [
                part["messages"]
                for part in kept
                if not part["queued"] or any(m.get("id") in wanted for m in part["messages"])
            ]
            return {**current, "case_parts": kept} if new else current

        await update_json(self.store, NS, _key(session_id), change)
        return parts

    async def parts_queued(self, session_id: str, first_ids: list[Any]) -> None:
        """The parts beginning with ``first_ids`` are queued for the Case."""

        def change(current: Any) -> Any:
            if current is None:
                return None
            kept = current.get("case_parts") or []
            if all(p["queued"] or p["messages"][0].get("id") not in first_ids for p in kept):
                return current
            marked = [
                {**p, "queued": True} if p["messages"][0].get("id") in first_ids else p
                for p in kept
            ]
            return {**current, "case_parts": marked}

        await update_json(self.store, NS, _key(session_id), change)

    async def count_echo(self, session_id: str) -> None:
        def change(current: Any) -> Any:
            if current is None or current.get("echoes") is None:
                return current
            return {**current, "echoes": int(current["echoes"]) + 1}

        await update_json(self.store, NS, _key(session_id), change)

    async def drop_outgoing(self, session_id: str, message_id: str) -> None:
        """The message will not go into the conversation (it went to the Case)."""

        def change(current: Any) -> Any:
            if current is None:
                return None
            outgoing = [m for m in current.get("outgoing", []) if m.get("id") != message_id]
            return {**current, "outgoing": outgoing}

        await update_json(self.store, NS, _key(session_id), change)

    async def forget_if_ended(self, session_id: str, before: float) -> bool:
        """Delete the chat if it ended before ``before`` (wall clock); True if it
        did. A chat handed off again meanwhile is left alone."""
        forgotten = False

        def change(current: Any) -> Any:
            nonlocal forgotten
            if current is None or current.get("state") not in CLOSED_STATES:
                return current
            if not 0 < float(current.get("ended_at") or 0) < before:
                return current
            forgotten = True
            return None

        await update_json(self.store, NS, _key(session_id), change)
        return forgotten

    async def session_ids(self) -> list[str]:
        return [key.removeprefix("chat:") for key in await self.store.keys(NS, "chat:")]

    async def all(self) -> list[LiveChat]:
        """Every chat kept, for a count or a look over them (the settings page,
        the metrics, the start's recovery): one read of them all where the
        store has ``get_many``, else one a chat."""
        keys = await self.store.keys(NS, "chat:")
        if isinstance(self.store, ReadsMany):
            found = await self.store.get_many(NS, keys)
            return [_chat(json.loads(found[key])) for key in keys if key in found]
        chats = [await self.get(key.removeprefix("chat:")) for key in keys]
        return [chat for chat in chats if chat is not None]

    # --- entries delivered to the contact ---------------------------------------------------
    async def delivered(self, conversation_id: str, entry_id: str) -> bool:
        return await self.store.get(NS, f"entry:{conversation_id}:{entry_id}") is not None

    async def mark_delivered(self, conversation_id: str, entry_id: str) -> None:
        key = f"entry:{conversation_id}:{entry_id}"
        await self.store.set(NS, key, b"1", ttl=ENTRY_MARK_SECONDS)

    # --- the lease on a conversation's stream -------------------------------------------------
    async def take_lease(self, conversation_id: str, holder: str, ttl: float) -> bool:
        """Hold the stream (or renew a hold): True while ``holder`` has it."""
        key = f"lease:{conversation_id}"
        mine = holder.encode()
        if await self.store.set_if_absent(NS, key, mine, ttl=ttl):
            return True
        return await self.store.compare_and_set(NS, key, mine, mine, ttl=ttl)

    async def release_lease(self, conversation_id: str, holder: str) -> None:
        await self.store.compare_and_set(NS, f"lease:{conversation_id}", holder.encode(), None)

    async def lease_holder(self, conversation_id: str) -> str | None:
        raw = await self.store.get(NS, f"lease:{conversation_id}")
        return None if raw is None else raw.decode()


_FIELDS = frozenset(f.name for f in fields(LiveChat))


def _chat(raw: dict[str, Any]) -> LiveChat:
    """A stored chat, without the fields this release does not know: a record
    written by a newer instance during a rolling upgrade is still read."""
    return LiveChat(**{k: v for k, v in raw.items() if k in _FIELDS})
