"""The plugin's open Cases, listed: what lets the sweep ask "is any Case the
plugin made open?" at a cost that does not grow with the Cases closed over the
years (a walk of every ``case:`` entry cost one store read per Case ever made:
ten seconds a sweep at 300,000 on SQLite).

One marker key per open Case, in a namespace of its own so that listing it
reads the open Cases only, on every backend (Redis lists a namespace from its
whole index). The Case index writes a marker *before* its entry says open (a
Case created, a conversation linked to it, a reopening) and removes it *after*
the entry says closed, so a crash between the two writes leaves a marker too
many, never one too few: a stale marker costs a sweep its one call (and is
cleared then: :meth:`~opencx_salesforce.replies.service.ReplyService.has_open_case`);
a missing one would leave a reply whose webhook was lost unswept.

A store written by an earlier release has Cases but no markers: the first
listing builds them once from the index's entries (the old walk, a page at a
time), and :data:`BUILT_KEY` remembers that it was done, for every instance.
"""

from __future__ import annotations

from collections.abc import Sequence

from opencx_salesforce.clock import SYSTEM_CLOCK, Clock
from opencx_salesforce.store import namespaces
from opencx_salesforce.store.base import Store

NS = namespaces.OPEN_CASES
PREFIX = "open:"
# Present once the markers of a store from an earlier release were built.
BUILT_KEY = "built"


class OpenCases:
    def __init__(self, store: Store, *, clock: Clock = SYSTEM_CLOCK) -> None:
        self._store = store
        self._clock = clock
        self._built = False  # BUILT_KEY seen: it is never removed, so asked once

    async def mark(self, case_ids: Sequence[str]) -> None:
        """The Cases are (or are about to be) open. The value is when, so that
        a marker whose Case never reached the index (a creation that crashed
        between the two writes) can be told from one just being written."""
        now = repr(self._clock.time()).encode()
        await self._store.set_many(NS, {PREFIX + case_id: now for case_id in case_ids})

    async def unmark(self, case_id: str) -> None:
        await self._store.delete(NS, PREFIX + case_id)

    async def marked(self) -> list[str]:
        """The Cases with a marker: one store call (the listing)."""
        return [key[len(PREFIX) :] for key in await self._store.keys(NS, PREFIX)]

    async def unmark_if_older(self, case_id: str, seconds: float) -> bool:
        """Remove the marker if it was written over ``seconds`` ago (and not
        written again meanwhile); whether the Case has no marker now."""
        key = PREFIX + case_id
        raw = await self._store.get(NS, key)
        if raw is None:
            return True
        if self._clock.time() - float(raw) < seconds:
            return False
        return await self._store.compare_and_set(NS, key, raw, None)

    async def built(self) -> bool:
        """Whether the markers exist for the Cases made before they did."""
        if not self._built:
            self._built = await self._store.get(NS, BUILT_KEY) is not None
        return self._built

    async def note_built(self) -> None:
        await self._store.set(NS, BUILT_KEY, b"1")
        self._built = True
