"""Whether SQLite's work is quick enough to run on the event loop itself.

Handing each batch and each read to a thread costs the process more than the
work: the loop and SQLite's threads pass the GIL back and forth, and the
busier the loop the dearer each hand-over (measured: a sixth of the plugin's
CPU per handoff, 8 % of its throughput; ``bench/profile_notes.md``). A commit
on a local disk takes a fraction of a millisecond, its fsync included, so
while commits (and reads) stay that quick the loop runs them itself; once
they run slow (network block storage, a disk under other load, a large
checkpoint) they go back to the thread, where the loop does not wait for them.

Both places keep timing the work, so the choice follows the disk both ways.
"""

from __future__ import annotations

# On average, work slower than this runs on a thread (seconds). A local SSD's
# fsync is 0.05-0.5 ms; cloud block storage's is 0.5-10 ms.
LOOP_LIMIT = 0.001

# Weight of the newest timing in the running average: one slow commit (a 10 ms
# fsync) sends the next ones to the thread; about ten quick ones bring them back.
_WEIGHT = 0.2


class Pace:
    """A running average of how long one kind of SQLite work takes, and where
    it runs: it leaves the loop once the average passes the limit and comes
    back once it is under half of it (so an average near the limit does not
    send the work back and forth)."""

    def __init__(self, limit: float = LOOP_LIMIT) -> None:
        self.limit = limit
        self._average = 0.0
        self._quick = limit > 0

    def took(self, seconds: float) -> bool:
        """Record one timing, wherever the work ran; whether it now runs
        somewhere else."""
        self._average += (seconds - self._average) * _WEIGHT
        if self._quick and self._average > self.limit:
            self._quick = False
            return True
        if not self._quick and self._average < self.limit / 2:
            self._quick = True
            return True
        return False

    @property
    def quick(self) -> bool:
        """The work may run on the loop (never with a limit of 0)."""
        return self._quick

    @property
    def average(self) -> float:
        return self._average
