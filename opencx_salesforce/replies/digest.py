"""The package's digest, received: a sweep the org makes for the plugin, at no API
call (:mod:`opencx_salesforce.apex.digest_contract`; docs/design.md, "The digest").

Once a minute the package's scheduled job lists the changes on the plugin's Cases
of the last few minutes, the same three streams the sweep reads, and calls the
webhook with them. Each change whose Case a read has already seen past
(:func:`.seen.already_read`: the ledger, no API call) is dropped: a digest
repeating what a doorbell's read handled costs nothing. Each Case left is rung
as if its doorbell had arrived (:meth:`ReplyService.ring`), so the normal read
delivers the reply once.

When the last digest arrived is kept in the store, for every host instance: the
sweep schedule (:mod:`.sweep_schedule`) trusts the webhook path while digests
arrive on time and sweeps promptly once they stop.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from opencx_salesforce.apex.digest_contract import Digest
from opencx_salesforce.clock import SYSTEM_CLOCK, Clock
from opencx_salesforce.replies.ledger import NS
from opencx_salesforce.replies.seen import already_read
from opencx_salesforce.replies.service import ReplyService
from opencx_salesforce.salesforce.ids import full_id
from opencx_salesforce.store.base import Store

log = logging.getLogger(__name__)

KEY = "digest:last"


@dataclass(frozen=True)
class DigestOutcome:
    changes: int  # listed in the digest
    seen: int  # already read: dropped, no call
    rung: int  # Cases queued for a read (a doorbell missed, or not yet arrived)


class DigestInbox:
    def __init__(self, store: Store, replies: ReplyService, *, clock: Clock = SYSTEM_CLOCK) -> None:
        self._store = store
        self._replies = replies
        self._clock = clock

    async def receive(self, digest: Digest) -> DigestOutcome:
        await self._store.set(NS, KEY, repr(self._clock.time()).encode())
        replies = self._replies
        seen = 0
        unread: dict[str, None] = {}  # Case Ids in order, once each
        for change in digest.changes:
            case_id = full_id(change.case_id)
            if case_id in unread:
                continue
            if await already_read(replies.ledger, case_id, change.record_id, change.stamp):
                seen += 1
            elif await replies.knows_case(case_id):
                unread[case_id] = None
        status = replies.status
        status.digests += 1
        status.digest_changes_unread += len(unread)
        if digest.truncated:
            status.digests_truncated += 1
            # Routine under load (a soak at 2 conversations a second met it once
            # a minute) and nothing is lost: the sweep reads what it left out.
            log.info("digest truncated: more changes than one digest lists; sweeping soon")
        for case_id in unread:
            await replies.ring(case_id)
        if unread:
            await replies.activity.note()
        return DigestOutcome(len(digest.changes), seen, len(unread))

    async def last_at(self) -> float | None:
        """When the last digest arrived (any instance), or None: never."""
        raw = await self._store.get(NS, KEY)
        return float(raw) if raw else None
