"""The reference host's sessions, kept in the store as JSON under the host's own
namespace, so that every host instance sharing the store sees the same
conversations.

Changes go through :meth:`SessionRepository.update`, a compare-and-set loop: two
instances appending to one session at once both land, neither overwrites the
other.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Callable

from opencx_salesforce.models import Session
from opencx_salesforce.store.base import Store

SESSIONS_NAMESPACE = "devhost.sessions"
_MAX_ATTEMPTS = 100


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


class SessionRepository:
    def __init__(self, store: Store, namespace: str = SESSIONS_NAMESPACE) -> None:
        self._store = store
        self._namespace = namespace

    async def add(self, session: Session) -> None:
        if not await self._store.set_if_absent(self._namespace, session.id, _dump(session)):
            raise SessionStateError(f"session {session.id!r} already exists")

    async def get(self, session_id: str) -> Session | None:
        raw = await self._store.get(self._namespace, session_id)
        return None if raw is None else Session.model_validate_json(raw)

    async def all(self) -> list[Session]:
        """Every session, oldest first."""
        found = []
        for key in await self._store.keys(self._namespace):
            session = await self.get(key)
            if session is not None:  # deleted between keys() and get()
                found.append(session)
        return sorted(found, key=lambda s: (s.created_at, s.id))

    async def update(
        self, session_id: str, change: Callable[[Session], Session | None]
    ) -> tuple[Session, bool]:
        """Apply ``change`` atomically. ``change`` gets the current session and
        returns the new one, or ``None`` to leave it as it is; it may run several
        times under contention, so it must not have side effects. Exceptions it
        raises propagate and nothing is written.

        :return: the session as stored afterwards, and whether it changed.
        """
        for _ in range(_MAX_ATTEMPTS):
            raw = await self._store.get(self._namespace, session_id)
            if raw is None:
                raise UnknownSessionError(session_id)
            current = Session.model_validate_json(raw)
            new = change(current)
            if new is None:
                return current, False
            if await self._store.compare_and_set(self._namespace, session_id, raw, _dump(new)):
                return new, True
            # Someone else wrote in between: back off a little, read again.
            await asyncio.sleep(random.uniform(0, 0.005))
        raise SessionBusy(f"session {session_id!r}: too much contention to update it")


def _dump(session: Session) -> bytes:
    return session.model_dump_json().encode()
