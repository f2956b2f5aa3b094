"""Keeping a rotated refresh token until the store has it.

With refresh token rotation on, Salesforce answers a refresh with a new refresh
token and invalidates the previous one at once ("The previous refresh token is
automatically invalidated" [src: help remoteaccess_oauth_refresh_token_flow.htm]).
From that answer until the store holds the new token, this process has the only
copy. So the write is not tried once and forgotten:

* the new record stays in memory (:attr:`RotationKeeper.pending`) and this
  instance uses it while the store still shows the record it replaced;
* a failed write (the store is down, a connection dropped) is retried in the
  background, with backoff, until it lands;
* a compare-and-set lost to a record that still carries a dead refresh token
  (another instance marked the connection "needs reauthorization" after trying
  the token that was rotated away) is merged: the fresh grant wins;
* one lost to a newer grant (an admin connected again, or disconnected) gives
  way: that write is newer than the refresh.

What cannot be saved: a process killed between Salesforce's answer and the
write. The new token dies with it and the old one is already dead, so an admin
must connect again (docs/troubleshooting.md says so; queued work waits and
resumes at once when they do).
"""

from __future__ import annotations

import asyncio
import enum
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from opencx_salesforce.salesforce.connection import Connection
from opencx_salesforce.salesforce.errors import NeedsReauthorization
from opencx_salesforce.salesforce.secrets import NAMESPACE
from opencx_salesforce.store.base import Store

log = logging.getLogger(__name__)

CONNECTION_KEY = "auth/connection"


class Saved(enum.Enum):
    LANDED = "landed"  # the store holds the fresh record
    PENDING = "pending"  # not yet: retried in the background, kept in memory
    SUPERSEDED = "superseded"  # a newer grant is stored: it wins


@dataclass
class Pending:
    replaces: bytes  # the stored record the fresh one replaces
    fresh: Connection
    dead: set[str] = field(default_factory=set)  # refresh tokens rotated away


class RotationKeeper:
    def __init__(
        self,
        store: Store,
        encrypt: Callable[[Connection], bytes],
        load: Callable[[], Awaitable[tuple[bytes | None, Connection | None]]],
        *,
        first_pause: float = 0.1,
        max_pause: float = 5.0,
    ) -> None:
        self._store = store
        self._encrypt = encrypt
        self._load = load
        self._first_pause = first_pause
        self._max_pause = max_pause
        self.pending: Pending | None = None
        self._task: asyncio.Task[None] | None = None
        self.retried_writes = 0

    def overlay(self, blob: bytes | None, conn: Connection | None) -> Connection | None:
        """The fresh record kept in memory when the store still shows what it
        replaces (or a record carrying a refresh token rotated away); else None."""
        pending = self.pending
        if pending is None or conn is None:
            return None
        if blob == pending.replaces or conn.refresh_token in pending.dead:
            return pending.fresh
        return None

    async def save(self, replaces: bytes, old: Connection, fresh: Connection) -> Saved:
        """Store ``fresh`` (which carries a new refresh token) in place of
        ``replaces``; never raises for a store error (it keeps trying)."""
        dead = set(self.pending.dead) if self.pending is not None else set()
        if old.refresh_token:
            dead.add(old.refresh_token)
        # A record read through the overlay has the store's blob under it.
        self.pending = Pending(replaces, fresh, dead)
        try:
            outcome = await self._attempt()
        except Exception as exc:  # the store: any backend's error
            log.error(
                "could not store the rotated Salesforce refresh token (%s); it is kept in "
                "memory and the write is retried until it lands",
                exc,
            )
            self._keep_trying()
            return Saved.PENDING
        return outcome

    async def _attempt(self) -> Saved:
        """One write of the pending record. Raises on a store error."""
        while (pending := self.pending) is not None:
            if await self._store.compare_and_set(
                NAMESPACE, CONNECTION_KEY, pending.replaces, self._encrypt(pending.fresh)
            ):
                self._settle(pending)
                return Saved.LANDED
            try:
                blob, latest = await self._load()
            except NeedsReauthorization:
                latest, blob = None, None  # unreadable: an admin is fixing the key
            if latest is not None and latest.refresh_token == pending.fresh.refresh_token:
                self._settle(pending)
                return Saved.LANDED
            if latest is None or blob is None or latest.refresh_token not in pending.dead:
                self._settle(pending)
                return Saved.SUPERSEDED
            # Still the dead token (marked for reauthorization meanwhile): ours wins.
            pending.replaces = blob
        return Saved.SUPERSEDED

    def _settle(self, pending: Pending) -> None:
        if self.pending is pending:
            self.pending = None

    def _keep_trying(self) -> None:
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(
                self._retry(), name="store the rotated refresh token"
            )

    async def _retry(self) -> None:
        pause = self._first_pause
        while self.pending is not None:
            await asyncio.sleep(pause)
            self.retried_writes += 1
            try:
                outcome = await self._attempt()
            except Exception as exc:
                pause = min(pause * 2, self._max_pause)
                log.warning("storing the rotated refresh token failed again (%s)", exc)
                continue
            log.info("the rotated Salesforce refresh token is stored (%s)", outcome.value)

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None
        if self.pending is not None:
            log.error(
                "stopping with a rotated Salesforce refresh token that was never stored: "
                "an admin will have to connect again"
            )
