"""The reference host's hook journal: a host change and the plugin hook it
triggers cannot be one atomic write, so the host writes down the hook call it
is about to make first, and crosses it out after. Entries left by a host that
died in between are replayed at the next start (see ``DevHost.start``); a call
a plugin failed is kept and made again (:class:`JournalRetry`)."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import logging
import os
import secrets
from collections.abc import Awaitable, Callable, Collection
from dataclasses import dataclass
from typing import Any

from opencx_salesforce.devhost.sessions import SessionRepository
from opencx_salesforce.models import HandoffReason, Role, Session, SessionStatus
from opencx_salesforce.store.base import Store

log = logging.getLogger(__name__)

JOURNAL_NS = "host.hook_journal"
# Entry keys: this process's random prefix and a count (unique across the host
# instances sharing the store, and a counter costs no system call per entry).
_PROCESS = secrets.token_hex(8)
_COUNT = itertools.count()


def _new_process() -> None:
    global _PROCESS
    _PROCESS = secrets.token_hex(8)  # a forked child is a host instance of its own


os.register_at_fork(after_in_child=_new_process)


HookCall = Callable[..., Awaitable[list[str]]]
"""The host's hook caller, ``call(hook, only=None, **kwargs)``: calls the
plugins (``only`` these, when given) and answers the names of those that raised."""

# A hook call that failed in a running host is made again after 30 s, then
# 60 s, 120 s… at most every 10 minutes, for the plugins that failed it.
RETRY_FIRST = 30.0
RETRY_CAP = 600.0


@dataclass(frozen=True)
class JournalEntry:
    key: str
    entry: dict[str, Any]
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
        return JournalEntry(key, entry, written)

    async def done(self, entry: JournalEntry) -> None:
        """Cross the entry out (once its write is over, so the two cannot cross)."""
        with contextlib.suppress(Exception):  # a failed write raised to its awaiter
            await entry.written
        await self.cross_out(entry.key)

    async def keep(self, entry: JournalEntry, failed: list[str]) -> None:
        """The hook call failed for the plugins ``failed``: the entry stays,
        naming them, so that a replay calls them again, and only them."""
        with contextlib.suppress(Exception):
            await entry.written
        await self.rewrite(entry.key, entry.entry, failed)

    async def rewrite(self, key: str, entry: dict[str, Any], failed: list[str]) -> None:
        """The entry, naming the plugins a replay calls again."""
        await self._store.set(JOURNAL_NS, key, json.dumps({**entry, "plugins": failed}).encode())

    async def cross_out(self, key: str) -> None:
        await self._store.delete(JOURNAL_NS, key)

    async def entries(self) -> list[tuple[str, dict[str, Any]]]:
        found = []
        for key in await self._store.keys(JOURNAL_NS):
            raw = await self._store.get(JOURNAL_NS, key)
            if raw is not None:
                found.append((key, json.loads(raw)))
        return found


async def replay_unfinished(
    store: Store, call: HookCall, keys: Collection[str] | None = None
) -> set[str]:
    """Make again the hook calls the journal holds (``keys`` of them only, when
    given): those a previous run of the host committed the session change for
    but may not have made (it died in between), and those a plugin failed (the
    store refused its write, it was not running). An entry naming the plugins
    that failed calls them only. The plugin's hooks are idempotent, so a call
    that did happen is harmless. Answers the entries kept: a plugin failed again."""
    journal = HookJournal(store)
    sessions = SessionRepository(store)
    kept: set[str] = set()
    for key, entry in await journal.entries():
        if keys is not None and key not in keys:
            continue
        only = entry.get("plugins")
        failed: list[str] = []
        session = await sessions.get(entry["session_id"])
        if session is not None and entry["hook"] == "on_handoff":
            if session.status == SessionStatus.HANDED_OFF:
                reason = HandoffReason.model_validate(entry["reason"])
                failed = await call("on_handoff", only=only, session=session, reason=reason)
        elif session is not None and entry["hook"] == "on_contact_reengage":
            found = [m for m in session.messages if m.id == entry["message_id"]]
            if found and session.status == SessionStatus.HANDED_OFF:
                failed = await call(
                    "on_contact_reengage", only=only, session=session, messages=found
                )
        elif (
            session is not None
            and entry["hook"] == "on_contact_leave"
            and _still_left(session, entry)
        ):
            failed = await call("on_contact_leave", only=only, session=session)
        if failed:
            await journal.rewrite(key, entry, failed)
            kept.add(key)
        else:
            await journal.cross_out(key)
    return kept


def _still_left(session: Session, entry: dict[str, Any]) -> bool:
    """Whether a leave the journal holds is still the session's news: handed
    off, and the contact wrote nothing since (``after``, their last message at
    the leave). Once they wrote again, they came back, or the bot took the
    session back and handed it off anew: a replay would end that chat."""
    contact = [m.id for m in session.messages if m.role == Role.CONTACT]
    last = contact[-1] if contact else None
    return session.status == SessionStatus.HANDED_OFF and last == entry.get("after")


class JournalRetry:
    """This host's hook calls that a plugin failed, made again in the
    background while the host runs (:data:`RETRY_FIRST`, doubling to
    :data:`RETRY_CAP`). A handoff whose ``on_handoff`` raised (the store
    refused the plugin's write a moment, the plugin was stopping) was crossed
    out of the journal all the same: the session said handed off and no Case
    ever came. What is still failing when the host stops stays in the journal
    for the next start."""

    def __init__(self, store: Store, call: HookCall) -> None:
        self._store = store
        self._call = call
        self._keys: set[str] = set()
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    @property
    def pending(self) -> set[str]:
        """The journal entries waiting to be called again."""
        return set(self._keys)

    def add(self, key: str) -> None:
        self._keys.add(key)
        self._wake.set()

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._loop(), name="hook retry")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None

    async def _loop(self) -> None:
        delay = RETRY_FIRST
        while True:
            if not self._keys:
                await self._wake.wait()
                delay = RETRY_FIRST
            self._wake.clear()
            await asyncio.sleep(delay)
            asked = set(self._keys)
            try:
                still = await replay_unfinished(self._store, self._call, asked)
            except Exception as exc:  # the store away: look again later
                log.warning("hook calls to make again: the store failed (%s)", exc)
                still = asked
            if asked - still:
                log.info("%d hook call(s) that had failed went through", len(asked - still))
            self._keys = (self._keys - asked) | still
            delay = min(delay * 2, RETRY_CAP)
