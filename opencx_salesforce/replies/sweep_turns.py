"""Whose turn it is to sweep: the last sweep of any host instance, in the store,
so that N instances together sweep at the configured cadence, not N times it.

Each instance's loop waits on its own schedule, counted from the start of the
last sweep *any* instance ran (this record), and when its wait ends it sweeps
only if no instance has swept since (asked under the sweep lock, so two
instances never take the same turn): the others let it pass and count from
the new sweep. The instance that swept last usually takes the next turn too;
if it stops, another takes it within one interval. The record carries that
sweep's finding (whether it found nothing the webhooks had missed), which an
instance that let the turn pass judges by, so every instance waits the same
interval (:mod:`.sweep_schedule`).

Times are the sweeping instance's clock. Instances' clocks agree to within
seconds (as :mod:`.activity` assumes), and a skew only moves *when* a turn is
taken, never whether: whose turn it is is decided by the record changing, and
a sweep recorded in the future is counted from now.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from opencx_salesforce.replies.ledger import NS
from opencx_salesforce.store.base import Store

KEY = "sweep:last"


@dataclass(frozen=True)
class LastSweep:
    started_at: float  # on the sweeping instance's clock
    found_nothing: bool  # nothing the webhooks had missed, caught up, no failure


class SweepTurns:
    def __init__(self, store: Store) -> None:
        self._store = store

    async def last(self) -> LastSweep | None:
        """The last sweep any instance recorded, or None (none yet)."""
        raw = await self._store.get(NS, KEY)
        if raw is None:
            return None
        data = json.loads(raw)
        return LastSweep(float(data["started_at"]), bool(data["found_nothing"]))

    async def record(self, sweep: LastSweep) -> None:
        """Written under the sweep lock, so one writer at a time."""
        data = {"started_at": sweep.started_at, "found_nothing": sweep.found_nothing}
        await self._store.set(NS, KEY, json.dumps(data).encode())
