"""The reference host's sessions, kept in the store as JSON under the host's own
namespace, so that every host instance sharing the store sees the same
conversations.

Changes go through :meth:`SessionRepository.update`, a compare-and-set loop: two
instances appending to one session at once both land, neither overwrites the
other.

Parsing a long conversation is the host's biggest cost per event, and most reads
find the bytes this instance wrote or read last: those are not parsed again
(:class:`_Parsed`). Whatever the store holds decides; the cache only skips
parsing the very same bytes twice, and lets an update try its compare-and-set
on the bytes it knows before reading them again.
"""

from __future__ import annotations

import asyncio
import random
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from typing import Any

from opencx_salesforce.models import Session, detached_copy
from opencx_salesforce.session_json import read_session, session_json
from opencx_salesforce.store.base import Store

SESSIONS_NAMESPACE = "devhost.sessions"
_MAX_ATTEMPTS = 100
# Sessions kept parsed: the conversations active at once on one instance.
_MAX_PARSED = 256


class UnknownSessionError(LookupError):
    """The host has no session with this id."""

    def __init__(self, session_id: str) -> None:
        self.session_id = session_id
        super().__init__(f"no session {session_id!r}")


class SessionStateError(ValueError):
    """The session is not in a state that allows the action (e.g. a second
    handoff while the first is still open)."""


class SessionBusy(TimeoutError):
    """Too many writers raced for one session. A timeout, so the plugin's outbox
    tries the job again (``opencx_salesforce.outbox.policy``)."""


class _Parsed:
    """The session last read or written, by id, with the bytes it was read from
    or written as. The sessions kept here are private: handed out as copies, and
    otherwise only to an update's ``change``, which must not mutate."""

    def __init__(self) -> None:
        self._entries: OrderedDict[str, tuple[bytes, Session]] = OrderedDict()

    def parse(self, session_id: str, raw: bytes) -> Session:
        entry = self._entries.get(session_id)
        if entry is not None and entry[0] == raw:
            self._entries.move_to_end(session_id)
            return entry[1]
        session = read_session(raw)  # its messages' bytes kept for the write back
        self.keep(session_id, raw, session)
        return session

    def latest(self, session_id: str) -> tuple[bytes, Session] | None:
        """The bytes and session this instance last read or wrote, if kept."""
        return self._entries.get(session_id)

    def keep(self, session_id: str, raw: bytes, session: Session) -> None:
        self._entries[session_id] = (raw, session)
        self._entries.move_to_end(session_id)
        if len(self._entries) > _MAX_PARSED:
            self._entries.popitem(last=False)

    def forget(self, session_id: str) -> None:
        self._entries.pop(session_id, None)


class SessionRepository:
    def __init__(self, store: Store, namespace: str = SESSIONS_NAMESPACE) -> None:
        self._store = store
        self._namespace = namespace
        self._parsed = _Parsed()

    @property
    def store(self) -> Store:
        return self._store

    async def add(self, session: Session) -> None:
        raw = _dump(session)
        if not await self._store.set_if_absent(self._namespace, session.id, raw):
            raise SessionStateError(f"session {session.id!r} already exists")
        self._parsed.keep(session.id, raw, detached_copy(session))

    async def get(self, session_id: str) -> Session | None:
        raw = await self._store.get(self._namespace, session_id)
        if raw is None:
            self._parsed.forget(session_id)
            return None
        return detached_copy(self._parsed.parse(session_id, raw))

    async def all(self) -> list[Session]:
        """Every session, oldest first."""
        found = []
        for key in await self._store.keys(self._namespace):
            session = await self.get(key)
            if session is not None:  # deleted between keys() and get()
                found.append(session)
        return sorted(found, key=lambda s: (s.created_at, s.id))

    async def update(
        self,
        session_id: str,
        change: Callable[[Session], Session | None],
        *,
        after: Awaitable[Any] | None = None,
    ) -> tuple[Session, bool]:
        """Apply ``change`` atomically. ``change`` gets the current session and
        returns the new one, or ``None`` to leave it as it is; it may run several
        times under contention, so it must not have side effects. Exceptions it
        raises propagate and nothing is written. ``after``: a write that must be
        over before the session's (the hook journal's entry); the read does not
        wait for it, and its error stops the update.

        :return: the session as stored afterwards, and whether it changed.
        """
        # The first try is on the bytes this instance wrote or read last, with no
        # read: most likely still the stored ones, and the compare-and-set checks
        # it. Decisions taken on them unverified (leave it as it is, refuse) and
        # a mismatch go to a read.
        known = self._parsed.latest(session_id)
        for _ in range(_MAX_ATTEMPTS + (known is not None)):
            verified = known is None
            if known is not None:
                (raw, current), known = known, None
            else:
                stored = await self._store.get(self._namespace, session_id)
                if stored is None:
                    self._parsed.forget(session_id)
                    raise UnknownSessionError(session_id)
                raw, current = stored, self._parsed.parse(session_id, stored)
            try:
                new = change(current)
            except Exception:
                if verified:
                    raise
                continue
            if new is None:
                if verified:
                    return detached_copy(current), False
                continue
            written = _dump(new)
            if after is not None:
                await after
                after = None
            if await self._store.compare_and_set(self._namespace, session_id, raw, written):
                self._parsed.keep(session_id, written, detached_copy(new))
                return new, True
            if verified:
                # Someone else wrote in between: back off a little, read again.
                await asyncio.sleep(random.uniform(0, 0.005))
        raise SessionBusy(f"session {session_id!r}: too much contention to update it")


def _dump(session: Session) -> bytes:
    # A handoff writes the same messages twice (status, then the Case link).
    return session_json(session)
