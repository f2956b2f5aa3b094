"""The reference host's hook journal: a host change and the plugin hook it
triggers cannot be one atomic write, so the host writes down the hook call it
is about to make first, and crosses it out after. Entries left by a host that
died in between are replayed at the next start (see ``DevHost.start``)."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import os
import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from opencx_salesforce.devhost.sessions import SessionRepository
from opencx_salesforce.models import HandoffReason, SessionStatus
from opencx_salesforce.store.base import Store

JOURNAL_NS = "host.hook_journal"
# Entry keys: this process's random prefix and a count (unique across the host
# instances sharing the store, and a counter costs no system call per entry).
_PROCESS = secrets.token_hex(8)
_COUNT = itertools.count()


def _new_process() -> None:
    global _PROCESS
    _PROCESS = secrets.token_hex(8)  # a forked child is a host instance of its own


os.register_at_fork(after_in_child=_new_process)


@dataclass(frozen=True)
class JournalEntry:
    key: str
    written: asyncio.Future[None]


class HookJournal:
    def __init__(self, store: Store) -> None:
        self._store = store

    def add(self, entry: dict[str, Any]) -> JournalEntry:
        """Start writing ``entry`` down: the caller awaits :attr:`JournalEntry.written`
        before the host change it announces (meanwhile it may read)."""
        key = f"{_PROCESS}-{next(_COUNT)}"
        written = asyncio.ensure_future(
            self._store.set(JOURNAL_NS, key, json.dumps(entry).encode())
        )
        return JournalEntry(key, written)

    async def done(self, entry: JournalEntry) -> None:
        """Cross the entry out (once its write is over, so the two cannot cross)."""
        with contextlib.suppress(Exception):  # a failed write raised to its awaiter
            await entry.written
        await self.cross_out(entry.key)

    async def cross_out(self, key: str) -> None:
        await self._store.delete(JOURNAL_NS, key)

    async def entries(self) -> list[tuple[str, dict[str, Any]]]:
        found = []
        for key in await self._store.keys(JOURNAL_NS):
            raw = await self._store.get(JOURNAL_NS, key)
            if raw is not None:
                found.append((key, json.loads(raw)))
        return found


async def replay_unfinished(store: Store, call: Callable[..., Awaitable[Any]]) -> None:
    """Hook calls a previous run of the host committed the session change for but
    may not have made (it died in between): make them again through ``call``
    (the host's hook caller). The plugin's hooks are idempotent, so a call that
    did happen is harmless."""
    journal = HookJournal(store)
    sessions = SessionRepository(store)
    for key, entry in await journal.entries():
        session = await sessions.get(entry["session_id"])
        if session is not None and entry["hook"] == "on_handoff":
            if session.status == SessionStatus.HANDED_OFF:
                reason = HandoffReason.model_validate(entry["reason"])
                await call("on_handoff", session=session, reason=reason)
        elif session is not None and entry["hook"] == "on_contact_reengage":
            found = [m for m in session.messages if m.id == entry["message_id"]]
            if found and session.status == SessionStatus.HANDED_OFF:
                await call("on_contact_reengage", session=session, messages=found)
        await journal.cross_out(key)
