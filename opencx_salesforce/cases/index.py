"""What the plugin remembers about its Cases, in the host store.

Salesforce is the record; this index is what lets the plugin answer "which Case
is this session on", "does this contact have an open Case", "did I write this
comment" without spending an API call. Every write is a compare-and-set loop, so
two host instances updating the same Case's entry never lose each other's write.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from opencx_salesforce.cases.closed_days import ClosedDays
from opencx_salesforce.cases.open_cases import OpenCases
from opencx_salesforce.clock import SYSTEM_CLOCK, Clock
from opencx_salesforce.store import namespaces
from opencx_salesforce.store.base import ReadsMany, Store
from opencx_salesforce.store.cells import read_json, update_json

NS = namespaces.CASES
# Longer than a job lives (the outbox's dead-letter age defaults to a day); a mark
# that expired only costs the retry one read.
CLEAN_TTL = 8 * 86400.0
# Entries read per store call while building the open Cases' markers once.
BUILD_PAGE = 500
# The bodies the plugin is about to write, remembered so that a reply reader
# never takes them for a rep's while their Ids are unknown (in flight, or an
# attempt cut off). Every attempt remembers them again before it sends, and a
# landed comment's Id is remembered for as long as its Case is kept; so they
# need not outlive a job by much. 90 days, as a delivered reply's record.
OWN_BODY_TTL = 90 * 86400.0
# An append's marks (its number in the session, that it landed) answer a host
# repeating its hook call, which it does within minutes or hours (the
# reference host's journal retries every 10 minutes at most): 90 days, and
# they go by themselves, not listed with a Case for the retention pass (one
# write fewer an append).
APPEND_MARK_TTL = 90 * 86400.0


@dataclass
class SessionCase:
    """The Case a session is on."""

    case_id: str
    # The external-id value the Case was created with (None when the session was
    # appended to another session's Case).
    external_id: str | None
    generation: int = 1  # 2, 3, … for Cases made after an earlier one closed


@dataclass
class CaseEntry:
    sessions: list[str] = field(default_factory=list)  # oldest first
    contact_key: str | None = None
    closed: bool = False


@dataclass(frozen=True)
class HandoffReads:
    """What a handoff reads in the index before it sends."""

    session_case: SessionCase | None
    session_case_entry: CaseEntry | None  # the entry of ``session_case``'s Case
    # The contact's latest Case (``contact:{key}``) and whether it is closed.
    contact_case: tuple[str, bool] | None
    contact_match: str | None  # as :meth:`CaseIndex.contact_match`
    # Appends were ever queued for the session (its append counter exists).
    appends_queued: bool = False
    # The Case the session was on when retention purged its keys (no
    # ``session_case`` then): a handoff makes the next generation's Case.
    purged: SessionCase | None = None


class CaseIndex:
    def __init__(self, store: Store, *, clock: Clock = SYSTEM_CLOCK) -> None:
        self._store = store
        # The store's get_many, if it has one (asked once).
        self._many = store if isinstance(store, ReadsMany) else None
        # Marked before an entry says open, unmarked after it says closed.
        self.open = OpenCases(store, clock=clock)
        # Listed on the day they closed, for the retention pass.
        self.closed_days = ClosedDays(store, clock=clock)
        self._clock = clock

    # --- JSON values with compare-and-set updates --------------------------------
    async def _read(self, key: str) -> Any:
        return await read_json(self._store, NS, key)

    async def _update(self, key: str, change: Callable[[Any], Any]) -> Any:
        return await update_json(self._store, NS, key, change)

    async def _read_many(self, keys: Sequence[str]) -> dict[str, bytes]:
        """Raw values of ``keys``: one store call when the store offers
        ``get_many`` (one statement on a database), else one read a key."""
        if self._many is not None:
            return await self._many.get_many(NS, keys)
        found = {}
        for key in keys:
            raw = await self._store.get(NS, key)
            if raw is not None:
                found[key] = raw
        return found

    async def handoff_reads(self, session_id: str, contact_key: str | None) -> HandoffReads:
        """The session's Case, the contact's latest Case and cached Contact match,
        with the entries of those Cases: two store calls at most where the
        store reads many keys at once, not five in a row."""
        first = [f"session:{session_id}"]
        if contact_key:
            first += [f"contact:{contact_key}", f"match:{contact_key}"]
        counter = f"append_seq:{session_id}"
        purged_key = f"purged:{session_id}"
        raw = await self._read_many([*first, counter, purged_key])
        ref_data = raw.get(first[0])
        ref = None if ref_data is None else SessionCase(**json.loads(ref_data))
        contact_case_id = raw[first[1]].decode() if contact_key and first[1] in raw else None
        match = raw[first[2]].decode() if contact_key and first[2] in raw else None
        wanted = [f"case:{c}" for c in (ref.case_id if ref else None, contact_case_id) if c]
        entries = await self._read_many(wanted) if wanted else {}

        def entry(case_id: str | None) -> CaseEntry | None:
            data = entries.get(f"case:{case_id}") if case_id else None
            return None if data is None else CaseEntry(**json.loads(data))

        contact_entry = entry(contact_case_id)
        return HandoffReads(
            session_case=ref,
            session_case_entry=entry(ref.case_id if ref else None),
            contact_case=(
                (contact_case_id, bool(contact_entry and contact_entry.closed))
                if contact_case_id is not None
                else None
            ),
            contact_match=match,
            appends_queued=counter in raw,
            purged=_purged(raw.get(purged_key)) if ref is None else None,
        )

    # --- sessions -------------------------------------------------------------------
    async def session_case(self, session_id: str) -> SessionCase | None:
        data = await self._read(f"session:{session_id}")
        return None if data is None else SessionCase(**data)

    async def purged_session(self, session_id: str) -> SessionCase | None:
        """The Case the session was on when retention purged its keys, if so."""
        return _purged(await self._store.get(NS, f"purged:{session_id}"))

    async def link_session(
        self,
        session_id: str,
        ref: SessionCase,
        contact_key: str | None,
        *,
        own_comments: Sequence[str] = (),
        new_case: bool = False,
        contact_match: str | None = None,
        marked: bool = False,
    ) -> None:
        """The session's Case, the contact's latest Case, the comments the
        plugin wrote on it, the Contact its lookup found (``contact_match``, as
        :meth:`remember_contact_match` would keep it) and the Case's entry: one
        write where it can be. ``new_case``: this handoff created the Case just
        now, so no other writer can know its Id yet (the contact's link to it is
        in this same write, under the contact's lock): its entry is written
        whole, not read and compared first. ``marked``: the caller marked the
        Case open already (beside the host's write, so that a handoff waits for
        one write fewer in a row)."""
        # The open marker first: a crash before the entry leaves "maybe open".
        # (A Case already closed, such as a merge's survivor, is unmarked by
        # the sweep's next look.)
        if not marked:
            await self.open.mark([ref.case_id])
        # vars(), not dataclasses.asdict: the same dict of these flat records,
        # without asdict's deep copy on the hot path.
        links = {f"session:{session_id}": json.dumps(vars(ref)).encode()}
        if contact_key:
            links[f"contact:{contact_key}"] = ref.case_id.encode()
            if contact_match:
                links[f"match:{contact_key}"] = contact_match.encode()
        links |= _own_comment_keys(own_comments)
        if new_case:
            entry = CaseEntry(sessions=[session_id], contact_key=contact_key)
            links[f"case:{ref.case_id}"] = json.dumps(vars(entry), sort_keys=True).encode()
            if own_comments:  # nobody else knows the Case yet: written whole
                owned = {"own": sorted({c[:15] for c in own_comments})}
                links[f"owned:{ref.case_id}"] = json.dumps(owned, sort_keys=True).encode()
        await self._store.set_many(NS, links)
        if new_case:
            return
        if own_comments:
            await self._note_owned(ref.case_id, own=own_comments)

        def add(entry: Any) -> Any:
            entry = entry or asdict(CaseEntry(contact_key=contact_key))
            if session_id not in entry["sessions"]:
                entry["sessions"].append(session_id)
            entry["contact_key"] = entry.get("contact_key") or contact_key
            return entry

        await self._update(f"case:{ref.case_id}", add)

    async def case(self, case_id: str) -> CaseEntry | None:
        data = await self._read(f"case:{case_id}")
        return None if data is None else CaseEntry(**data)

    async def cases(self, case_ids: Sequence[str]) -> dict[str, CaseEntry]:
        """The entries of those Cases the index has: one store call where the
        store reads many keys at once."""
        raw = await self._read_many([f"case:{c}" for c in case_ids])
        return {key[len("case:") :]: CaseEntry(**json.loads(v)) for key, v in raw.items()}

    async def marked_open(self) -> list[str]:
        """The Cases marked open (:mod:`.open_cases`): those whose entry says
        open, and maybe a few closed since. A store from an earlier release
        has its markers built first, once."""
        if not await self.open.built():
            await self._build_open_markers()
        return await self.open.marked()

    async def _build_open_markers(self) -> None:
        """Mark the open Cases of the entries written before markers existed.
        Every instance may do it at once: marking twice is harmless, and a Case
        closed meanwhile only leaves a marker too many."""
        keys = await self._store.keys(NS, "case:")
        for start in range(0, len(keys), BUILD_PAGE):
            raw = await self._read_many(keys[start : start + BUILD_PAGE])
            opened = [k[len("case:") :] for k, v in raw.items() if not json.loads(v).get("closed")]
            if opened:
                await self.open.mark(opened)
            await asyncio.sleep(0)  # a large index must not hold the event loop
        await self.open.note_built()

    # --- contacts -------------------------------------------------------------------
    async def mark_closed(self, case_id: str, closed: bool = True) -> list[str] | None:
        """Record that the Case closed (or reopened). Returns its sessions if this
        changed anything, None if it was already so (so callers act once).

        A closing is listed under its day and its time kept (``closed_at``, the
        first closing since it was last open) before the entry says closed; a
        reopening forgets that time before the entry says open. A crash between
        the writes leaves a Case kept too long, never one purged too soon."""
        changed = False
        if closed:
            await self.closed_days.note([case_id])
            now = repr(self._clock.time()).encode()
            await self._store.set_if_absent(NS, f"closed_at:{case_id}", now)
        else:
            await self._store.delete(NS, f"closed_at:{case_id}")
            await self.open.mark([case_id])  # before the entry says open

        def flip(entry: Any) -> Any:
            nonlocal changed
            if entry is None or bool(entry.get("closed")) == closed:
                changed = False
                return entry
            changed = True
            return {**entry, "closed": closed}

        entry = await self._update(f"case:{case_id}", flip)
        if closed and entry is not None:
            await self.open.unmark(case_id)  # after the entry says closed
        return list(entry["sessions"]) if changed and entry else None

    async def closed_at(self, case_id: str) -> float | None:
        """When the Case closed (its first closing since it was last open), as
        this plugin saw it; None when it is open, or closed before this was kept."""
        raw = await self._store.get(NS, f"closed_at:{case_id}")
        return None if raw is None else float(raw)

    async def forget_closed_at(self, case_id: str) -> None:
        await self._store.delete(NS, f"closed_at:{case_id}")

    async def note_closed_at(self, case_id: str, at: float) -> None:
        """For a Case closed before closings were kept: counted from ``at``."""
        await self._store.set_if_absent(NS, f"closed_at:{case_id}", repr(at).encode())

    async def contact_match(self, contact_key: str) -> str | None:
        """A cached Contact Id; "" when the lookup found none; None if unknown."""
        raw = await self._store.get(NS, f"match:{contact_key}")
        return None if raw is None else raw.decode()

    async def remember_contact_match(self, contact_key: str, contact_id: str | None) -> None:
        # A miss is cached for a day only: the Contact may be created later.
        ttl = None if contact_id else 86400.0
        await self._store.set(NS, f"match:{contact_key}", (contact_id or "").encode(), ttl=ttl)

    # --- the plugin's own comments ----------------------------------------------------
    async def remember_own_comments(self, case_id: str, comment_ids: Sequence[str]) -> None:
        """The comments the plugin wrote on the Case, kept as long as the Case's
        keys are (listed with them, for the retention pass)."""
        if not comment_ids:
            return
        await self._store.set_many(NS, _own_comment_keys(comment_ids))
        await self._note_owned(case_id, own=comment_ids)

    async def _note_owned(self, case_id: str, *, own: Sequence[str]) -> None:
        """List the keys that belong to the Case and whose names the Case's
        entry does not give (its comments' Ids): the retention pass removes
        them with it."""

        def add(current: Any) -> Any:
            current = current or {"own": []}
            return {**current, "own": sorted(set(current["own"]) | {c[:15] for c in own})}

        await self._update(f"owned:{case_id}", add)

    async def is_own_comment(self, comment_id: str, body: str | None = None) -> bool:
        """Whether the plugin wrote this comment: its Id is known, or its body is
        one the plugin was about to write (remembered before sending, so a reply
        reader running while the write is in flight, or after a crash, cannot
        mistake a transcript comment for a rep's reply)."""
        if await self._store.get(NS, f"own:{comment_id[:15]}") is not None:
            return True
        return body is not None and (
            await self._store.get(NS, f"own_body:{_digest(body)}") is not None
        )

    async def remember_own_bodies(self, bodies: list[str]) -> None:
        if not bodies:
            return
        await self._store.set_many(
            NS, {f"own_body:{_digest(body)}": b"1" for body in bodies}, ttl=OWN_BODY_TTL
        )

    # --- the order of appends ----------------------------------------------------------
    async def append_seq(self, session_id: str, item_id: str) -> int:
        """The number of the append ``item_id`` in its session: 1, 2, 3, …, the
        same number if asked again for the same item (a host repeating a hook
        call must not leave a gap the next append would wait on)."""
        known = await self._read(f"append_item:{item_id}")
        if known is not None:
            return int(known)
        value = int(await self._update(f"append_seq:{session_id}", lambda n: (n or 0) + 1))
        if not await self._store.set_if_absent(
            NS, f"append_item:{item_id}", str(value).encode(), ttl=APPEND_MARK_TTL
        ):
            return int(await self._read(f"append_item:{item_id}"))  # a racing twin won
        return value

    async def appended_upto(self, session_id: str) -> int:
        """The highest append number that has landed on the Case (0: none)."""
        return int(await self._read(f"appended:{session_id}") or 0)

    async def append_landed(self, item_id: str) -> bool:
        return await self._store.get(NS, f"append_landed:{item_id}") is not None

    async def mark_append_landed(self, item_id: str) -> None:
        await self._store.set(NS, f"append_landed:{item_id}", b"1", ttl=APPEND_MARK_TTL)

    async def mark_appended(self, session_id: str, seq: int) -> None:
        await self._update(f"appended:{session_id}", lambda n: max(n or 0, seq))

    # --- sessions given back to the bot after a closure (after_closure) ------------------
    async def mark_handed_back(self, session_id: str, case_id: str) -> None:
        await self._store.set(NS, f"handed_back:{session_id}", case_id.encode())

    async def handed_back_from(self, session_id: str) -> str | None:
        """The closed Case the session was given back to the bot from, if any."""
        raw = await self._store.get(NS, f"handed_back:{session_id}")
        return None if raw is None else raw.decode()

    async def mark_resolved_from(
        self, session_id: str, case_id: str, last_message_id: str | None
    ) -> None:
        """The session was resolved because its Case closed, after its message
        ``last_message_id`` (None: it had none). Should a rep reopen the Case
        and the bot hand the conversation off again, the words after that one
        are those the Case lacks (:meth:`resolved_from`)."""
        record = {"case": case_id, "after": last_message_id}
        await self._store.set(NS, f"resolved_from:{session_id}", json.dumps(record).encode())

    async def resolved_from(self, session_id: str) -> tuple[str, str | None] | None:
        """The Case whose closing resolved the session, and its last message then."""
        raw = await self._store.get(NS, f"resolved_from:{session_id}")
        if raw is None:
            return None
        record = json.loads(raw)
        return str(record["case"]), record.get("after")

    async def forget_resolved_from(self, session_id: str) -> None:
        await self._store.delete(NS, f"resolved_from:{session_id}")

    # --- what the earlier attempts of a job left in Salesforce --------------------
    async def mark_nothing_landed(self, item_id: str, attempt: int) -> None:
        """Attempts 1..``attempt`` of the job wrote nothing: each was refused
        whole, with an answer (see :func:`.plan.nothing_landed`)."""
        await self._store.set(NS, f"clean:{item_id}", str(attempt).encode(), ttl=CLEAN_TTL)

    async def nothing_landed_before(self, item_id: str, attempt: int) -> bool:
        """Whether every attempt before ``attempt`` is known to have written
        nothing (a first attempt has none before it)."""
        if attempt <= 1:
            return True
        raw = await self._store.get(NS, f"clean:{item_id}")
        return raw is not None and raw.decode() == str(attempt - 1)

    # --- retention: a closed Case's keys removed --------------------------------------
    async def forget_case(
        self, case_id: str, entry: CaseEntry, keeps_session: Callable[[str], Awaitable[bool]]
    ) -> int:
        """Remove what the index keeps of a closed Case: its entry, the links of
        the sessions still on it, the comments it wrote, its appends' marks and
        the contact's link to it if it is the contact's latest. A session the
        host still has (``keeps_session``) leaves a small ``purged`` record, so
        that a handoff of it makes the next generation's Case (linked to this
        one) instead of upserting on this one's external id. The entry goes
        last, so a pass cut short is finished by the next. Returns the keys
        removed."""
        removed = 0

        async def drop(key: str, expected: bytes | None = None) -> None:
            nonlocal removed
            if expected is None:
                removed += await self._store.delete(NS, key)
            else:
                removed += await self._store.compare_and_set(NS, key, expected, None)

        for session_id in entry.sessions:
            raw = await self._store.get(NS, f"session:{session_id}")
            ref = None if raw is None else SessionCase(**json.loads(raw))
            if ref is None or ref.case_id != case_id:
                continue  # moved on (a follow-up, a merge's survivor): that Case's
            await drop(f"append_seq:{session_id}")
            await drop(f"appended:{session_id}")
            if await self.handed_back_from(session_id) == case_id:
                await drop(f"handed_back:{session_id}")
            resolved = await self._store.get(NS, f"resolved_from:{session_id}")
            if resolved is not None and json.loads(resolved).get("case") == case_id:
                await drop(f"resolved_from:{session_id}", resolved)
            if await keeps_session(session_id):
                await self._store.set(NS, f"purged:{session_id}", json.dumps(vars(ref)).encode())
            await drop(f"session:{session_id}", raw)
        owned = await self._read(f"owned:{case_id}")
        if owned is not None:
            for comment_id in owned.get("own", []):
                await drop(f"own:{comment_id}")
            await drop(f"owned:{case_id}")
        if entry.contact_key and await self._store.compare_and_set(
            NS, f"contact:{entry.contact_key}", case_id.encode(), None
        ):
            removed += 1
            # The Contact's cached match goes with it: the next handoff of the
            # contact looks it up again, in the same call as its Case.
            await drop(f"match:{entry.contact_key}")
        await self.open.unmark(case_id)
        await drop(f"case:{case_id}")
        await drop(f"closed_at:{case_id}")
        return removed

    # --- retention: a store from an earlier release -------------------------------
    async def note_earlier_closings(self, at: float) -> int:
        """Give the Cases closed before closings were kept (no ``closed_at``) the
        time ``at`` and list them under its day: they are purged retention_days
        after the upgrade, never sooner than after their closing. A walk of
        every entry, a page at a time, once (as :meth:`_build_open_markers`).
        Returns how many it noted."""
        keys = await self._store.keys(NS, "case:")
        noted = 0
        for start in range(0, len(keys), BUILD_PAGE):
            page = keys[start : start + BUILD_PAGE]
            raw = await self._read_many(page)
            closed = [k[len("case:") :] for k, v in raw.items() if json.loads(v).get("closed")]
            times = await self._read_many([f"closed_at:{c}" for c in closed])
            untimed = [c for c in closed if f"closed_at:{c}" not in times]
            if untimed:
                await self.closed_days.note(untimed, at=at)
                stamp = repr(at).encode()
                await self._store.set_many(NS, {f"closed_at:{c}": stamp for c in untimed})
                noted += len(untimed)
            await asyncio.sleep(0)  # a large index must not hold the event loop
        return noted


def _purged(raw: bytes | None) -> SessionCase | None:
    return None if raw is None else SessionCase(**json.loads(raw))


def _own_comment_keys(comment_ids: Sequence[str]) -> dict[str, bytes]:
    # 15 characters: the Id as Salesforce's case-sensitive form, whichever form
    # an answer gives.
    return {f"own:{comment_id[:15]}": b"1" for comment_id in comment_ids}


def _digest(body: str) -> str:
    # Bodies are compared as Salesforce stores them: trailing space is not
    # significant to a reader, so it is not to the digest either.
    return hashlib.sha256(body.strip().encode("utf-8")).hexdigest()
