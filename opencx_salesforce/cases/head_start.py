"""A handoff's first writes, begun with its job.

Before a handoff's job can send anything it holds the contact's lock and has
remembered the transcript's bodies as the plugin's own (:mod:`.service`). When
the job will run in the process that queues it (the outbox's direct start), the
host's hook call begins both beside the job's own write, so all three share one
wait of the store (one group commit on SQLite, one pipeline on Redis) instead of
three in a row. The job takes its head start when it begins; a head start whose
job did not start here (the outbox had no free slot, the item was already
queued) is given up: its lock released, its remembered bodies left (harmless).

Nothing here is durable: a process that dies leaves a lock that runs out with
its ttl and a job whose lease runs out, as any worker dying mid-job does. Only
a job's first attempt uses its head start: a later one (its first never began,
the outbox was stopped) releases it, as its claim may be older than the lock's
ttl.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import Any

from opencx_salesforce.models import Session
from opencx_salesforce.store.lock import LockClaim


@dataclass(frozen=True)
class HeadStart:
    claim: LockClaim  # the contact's lock, being taken
    transcript: asyncio.Future[list[str]]  # the bodies, being remembered
    # The session as the job's payload holds it: the job need not parse it again.
    session: Session

    async def abandon(self) -> None:
        await self.claim.abandon()
        with contextlib.suppress(Exception):
            await self.transcript


class HeadStarts:
    """Head starts by job item id; each is taken once, by its job or given up."""

    def __init__(self) -> None:
        self._by_item: dict[str, HeadStart] = {}
        self._giving_up: set[asyncio.Task[None]] = set()

    def begin(
        self,
        item_id: str,
        session: Session,
        claim: Callable[[], LockClaim],
        transcript: Callable[[], Coroutine[Any, Any, list[str]]],
    ) -> HeadStart | None:
        """Start one for ``item_id`` (None, and nothing started, if one is
        already waiting for that job). ``session``: the job's, as its payload
        has it (a copy the host's later changes cannot reach)."""
        if item_id in self._by_item:
            return None
        head = HeadStart(claim(), asyncio.ensure_future(transcript()), session)
        self._by_item[item_id] = head
        return head

    def take(self, item_id: str, attempt: int) -> HeadStart | None:
        """The head start begun for this job, for its first attempt. One left
        for a later attempt (the first never began: the outbox stopped) is
        released: its claim may be older than the lock's ttl."""
        head = self._by_item.pop(item_id, None)
        if head is not None and attempt > 1:
            self.abandon(head)
            return None
        return head

    def __len__(self) -> int:
        """How many wait for their job."""
        return len(self._by_item)

    def give_up(self, item_id: str, head: HeadStart) -> None:
        """``head``'s job will not take it (it did not start here): released,
        unless the job took it already."""
        if self._by_item.get(item_id) is not head:
            return
        del self._by_item[item_id]
        self.abandon(head)

    def abandon(self, head: HeadStart) -> None:
        """Release a head start nobody will use, in the background."""
        task = asyncio.ensure_future(head.abandon())
        self._giving_up.add(task)
        task.add_done_callback(self._giving_up.discard)
