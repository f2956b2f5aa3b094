"""The store's record of which replies reached the contact: exactly once, across
crashes and host instances.

Two things, both in the host store so that every instance shares them:

* **A marker per record** (CaseComment or EmailMessage Id), claimed with
  set-if-absent *before* delivering: ``delivering:<owner>``, then ``delivered``
  after. Two workers never both win the claim. The claim is written with a TTL
  of :data:`STALE_CLAIM_SECONDS`: a worker that dies between claiming and
  delivering leaves it behind until the *store* expires it (the store's clock,
  never an instance's, so skewed instances cannot take a live claim, issue
  #16.1); then another worker's set-if-absent wins (again only one) and
  delivers: a claimed record is never lost. The one window left is a crash
  after the host accepted the message and before ``delivered`` was written;
  the takeover then delivers it a second time, and the host's ``external_id``
  dedupe is the second line for that instant.
* **A cursor per Case**: the (SystemModstamp, Ids at that SystemModstamp) of the
  last record handled, delivered or skipped. The next read asks Salesforce only
  for records changed from there on. SystemModstamp, not CreatedDate: a draft
  email sent later, or an internal comment made public later, is the same record
  changed, and must be read again then (issue #15.2, #15.3). A record read again
  because it changed (an edited comment) is not delivered twice: its marker says
  ``delivered`` for :data:`DELIVERED_TTL`. Moved forward only, by compare-and-set.

Also here: the per-Case notification state (an epoch that lets notifications
coalesce without losing one, and when the last read began, so that a burst costs
at most one read per short interval; see :mod:`opencx_salesforce.replies.service`),
the Case's own SystemModstamp as last read (so the sweep need not read a Case
again for a change a webhook read already saw), and the sessions waiting to be
resolved after a Case closed or was deleted (so a crash between "closed" and
"resolved" finishes on the next read).
"""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass
from enum import Enum
from typing import Any

from opencx_salesforce.clock import SYSTEM_CLOCK, Clock
from opencx_salesforce.salesforce import datetimes
from opencx_salesforce.store import namespaces
from opencx_salesforce.store.base import Store
from opencx_salesforce.store.cells import read_json, update_json

NS = namespaces.REPLIES
# A claim older than this belongs to a worker that died: delivering one message to
# the host takes milliseconds, and the per-Case lock is shorter than this.
STALE_CLAIM_SECONDS = 90.0
# "delivered" markers are what keeps a reply that changes again after delivery (a
# rep edits a public comment) from reaching the contact twice, so they outlive any
# conversation: 90 days (a few dozen bytes per reply).
DELIVERED_TTL = 90 * 86400.0
DELIVERED = b"delivered"


@dataclass(frozen=True)
class Cursor:
    """Where a Case's replies have been read up to."""

    at: str | None = None  # SystemModstamp of the last record handled, as Salesforce wrote it
    ids: tuple[str, ...] = ()  # every record handled at exactly that SystemModstamp

    def is_behind(self, created: str, record_id: str) -> bool:
        """Whether a record is after this cursor (not handled yet)."""
        if self.at is None:
            return True
        mine, theirs = datetimes.parse(self.at), datetimes.parse(created)
        if theirs != mine:
            return theirs > mine
        return record_id[:15] not in {i[:15] for i in self.ids}

    def after(self, created: str, record_id: str) -> Cursor:
        """This cursor moved past one more record (records come in SystemModstamp order)."""
        if self.at is not None and datetimes.parse(self.at) == datetimes.parse(created):
            return Cursor(self.at, (*self.ids, record_id))
        return Cursor(created, (record_id,))

    def to_json(self) -> dict[str, Any]:
        return {"at": self.at, "ids": list(self.ids)}

    @classmethod
    def from_json(cls, data: Any) -> Cursor:
        if not isinstance(data, dict):
            return cls()
        return cls(data.get("at"), tuple(data.get("ids") or ()))


class Claim(Enum):
    MINE = "mine"  # deliver it, then call :meth:`ReplyLedger.mark_delivered`
    DONE = "done"  # already delivered
    BUSY = "busy"  # another live worker is delivering it right now


@dataclass(frozen=True)
class ClaimResult:
    claim: Claim
    token: bytes = b""


class ReplyLedger:
    def __init__(
        self,
        store: Store,
        *,
        clock: Clock = SYSTEM_CLOCK,
        claim_ttl: float = STALE_CLAIM_SECONDS,
    ) -> None:
        self._store = store
        self._clock = clock
        self._claim_ttl = claim_ttl
        self._owner = secrets.token_hex(6)

    # --- per-record markers ---------------------------------------------------------
    @staticmethod
    def _record_key(record_id: str) -> str:
        return f"record:{record_id[:15]}"  # 15 and 18-character Ids are one record

    async def claim(self, record_id: str) -> ClaimResult:
        key = self._record_key(record_id)
        while True:
            token = f"delivering:{self._owner}:{secrets.token_hex(4)}".encode()
            if await self._store.set_if_absent(NS, key, token, ttl=self._claim_ttl):
                return ClaimResult(Claim.MINE, token)
            current = await self._store.get(NS, key)
            if current is None:
                continue  # expired between the two calls: try again
            if current == DELIVERED:
                return ClaimResult(Claim.DONE)
            if _legacy_claim_is_stale(current, self._clock.time()):
                if await self._store.compare_and_set(NS, key, current, token, ttl=self._claim_ttl):
                    return ClaimResult(Claim.MINE, token)
                continue
            return ClaimResult(Claim.BUSY)

    async def mark_delivered(self, record_id: str, token: bytes) -> bool:
        """False if another worker took the claim over meanwhile (this worker was
        slower than :data:`STALE_CLAIM_SECONDS`)."""
        return await self._store.compare_and_set(
            NS, self._record_key(record_id), token, DELIVERED, ttl=DELIVERED_TTL
        )

    async def release(self, record_id: str, token: bytes) -> None:
        """Give a claim back after the host refused the message (it was not shown)."""
        await self._store.compare_and_set(NS, self._record_key(record_id), token, None)

    async def is_delivered(self, record_id: str) -> bool:
        return await self._store.get(NS, self._record_key(record_id)) == DELIVERED

    # --- per-Case cursor ------------------------------------------------------------
    async def cursor(self, case_id: str) -> Cursor:
        raw = await self._store.get(NS, f"cursor:{case_id[:15]}")
        return Cursor() if raw is None else Cursor.from_json(json.loads(raw))

    async def advance(self, case_id: str, new: Cursor) -> None:
        """Move the Case's cursor to ``new`` unless it is already further."""

        def forward(current: Any) -> Any:
            if current is not None and _not_after(new, Cursor.from_json(current)):
                return current
            return new.to_json()

        await update_json(self._store, NS, f"cursor:{case_id[:15]}", forward)

    # --- notification state -----------------------------------------------------------
    async def notify_state(self, case_id: str) -> NotifyState:
        raw = await self._store.get(NS, f"epoch:{case_id[:15]}")
        return NotifyState.from_json(None if raw is None else json.loads(raw))

    async def epoch(self, case_id: str) -> int:
        return (await self.notify_state(case_id)).epoch

    async def bump_epoch(self, case_id: str) -> int:
        """A read of the Case begins now: later notifications need a later read."""
        now = self._clock.time()

        def bump(current: Any) -> Any:
            state = NotifyState.from_json(current)
            return {"epoch": state.epoch + 1, "read_at": now}

        return int((await update_json(self._store, NS, f"epoch:{case_id[:15]}", bump))["epoch"])

    # --- the Case's own SystemModstamp, as last read ------------------------------------
    async def case_stamp(self, case_id: str) -> str | None:
        value = await read_json(self._store, NS, f"stamp:{case_id[:15]}")
        return value if isinstance(value, str) else None

    async def note_case_stamp(self, case_id: str, stamp: str) -> None:
        def later(current: Any) -> Any:
            if isinstance(current, str) and datetimes.parse(current) >= datetimes.parse(stamp):
                return current
            return stamp

        await update_json(self._store, NS, f"stamp:{case_id[:15]}", later)

    # --- sessions to resolve after a Case closed -----------------------------------
    async def set_pending_resolution(self, case_id: str, sessions: list[str]) -> None:
        await self._store.set(NS, f"resolve:{case_id[:15]}", json.dumps(sessions).encode())

    async def pending_resolution(self, case_id: str) -> list[str]:
        raw = await self._store.get(NS, f"resolve:{case_id[:15]}")
        return [] if raw is None else [str(s) for s in json.loads(raw)]

    async def clear_pending_resolution(self, case_id: str) -> None:
        await self._store.delete(NS, f"resolve:{case_id[:15]}")

    # --- retention -------------------------------------------------------------------
    async def forget_case(self, case_id: str) -> int:
        """Remove the Case's cursor, notification state, stamp and pending
        resolutions (retention: the Case closed long ago). The replies'
        ``delivered`` records expire on their own. Returns the keys removed."""
        removed = 0
        for kind in ("cursor", "epoch", "stamp", "resolve"):
            removed += await self._store.delete(NS, f"{kind}:{case_id[:15]}")
        return removed


@dataclass(frozen=True)
class NotifyState:
    epoch: int = 0
    read_at: float | None = None  # when the last read of the Case began

    @classmethod
    def from_json(cls, data: Any) -> NotifyState:
        if isinstance(data, int):  # written by an older version: the epoch alone
            return cls(data)
        if not isinstance(data, dict):
            return cls()
        read_at = data.get("read_at")
        return cls(int(data.get("epoch") or 0), float(read_at) if read_at is not None else None)


def _not_after(new: Cursor, current: Cursor) -> bool:
    """Whether ``new`` is at or before ``current``."""
    if new.at is None:
        return True
    if current.at is None:
        return False
    new_at, current_at = datetimes.parse(new.at), datetimes.parse(current.at)
    if new_at != current_at:
        return new_at < current_at
    return {i[:15] for i in new.ids} <= {i[:15] for i in current.ids}


def _legacy_claim_is_stale(value: bytes, now: float) -> bool:
    """A claim written before claims had a TTL (``delivering:<time>:<owner>:…``)
    never expires by itself: judged by its time, as it was then."""
    parts = value.split(b":")
    if len(parts) != 4:
        return False
    try:
        return now - float(parts[1]) > STALE_CLAIM_SECONDS
    except ValueError:
        return False
