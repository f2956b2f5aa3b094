"""Whether SQLite's work is quick enough to run on the event loop itself.

Handing each batch and each read to a thread costs the process more than the
work: the loop and SQLite's threads pass the GIL back and forth, and the
busier the loop the dearer each hand-over (measured: 8 % of the plugin's CPU
per handoff; ``bench/profile_notes.md``, session 13). A commit on a local disk
takes a fraction of a millisecond, its fsync included, so while commits (and
reads) stay that quick the loop runs them itself; once they run slow (network
block storage, a disk under other load) they go back to the thread, where the
loop does not wait for them. Each kind of work keeps its own pace: commits,
reads, and the statements of a batch whose commit has left the loop (timed
each, see :mod:`._sqlite_connection`).

Only work run on the loop is timed: on a thread, a timing would include the
wait for the GIL after each SQLite call (up to the interpreter's 5 ms switch
interval while the loop is busy), so quick work would look slow there and never
come back. Instead, while the work runs on the threads, one piece a second runs
on the loop as a probe, and a quick probe brings the work back.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from opencx_salesforce.log_throttle import LogThrottle

# On average, work slower than this runs on a thread (seconds). A local SSD's
# fsync is 0.05-0.5 ms; cloud block storage's is 0.5-10 ms.
LOOP_LIMIT = 0.001

# Weight of the newest timing in the running average (about the last twenty):
# a lone slow fsync (local disks show one of several ms now and then) does not
# send the work away; a run of them does (2 ms commits: after about a dozen).
_WEIGHT = 0.05

# While the work runs on the threads, how often one piece tries the loop.
PROBE_EVERY = 1.0

# A pace's moves are logged at INFO at most this often (seconds): on a disk
# whose commits sit at the limit they go back and forth (a soak saw 232 lines
# in 27 minutes); the moves between are logged at DEBUG and counted in the next.
REPORT_EVERY = 600.0


class Pace:
    """A running average of how long one kind of SQLite work takes on the
    loop, and whether it runs there: it leaves once the average passes the
    limit, and comes back when a probe takes under half of it."""

    def __init__(
        self,
        limit: float = LOOP_LIMIT,
        *,
        probe_every: float = PROBE_EVERY,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.limit = limit
        self._probe_every = probe_every
        self._clock = clock
        self._average = 0.0
        self._quick = limit > 0
        # A limit of 0: never on the loop, not even to probe.
        self._next_probe = clock() + probe_every if limit > 0 else float("inf")
        self.reports = LogThrottle(REPORT_EVERY, clock)

    @property
    def on_loop(self) -> bool:
        """Whether the next piece of work runs on the loop (as a probe, when
        the work runs on the threads and a probe is due)."""
        return self._quick or self._clock() >= self._next_probe

    def took(self, seconds: float) -> bool:
        """Record how long a piece of work took on the loop; whether the work
        now runs somewhere else."""
        if not self._quick:  # that was a probe
            if seconds < self.limit / 2:
                self._quick, self._average = True, seconds
                return True
            self._next_probe = self._clock() + self._probe_every
            return False
        self._average += (seconds - self._average) * _WEIGHT
        if self._average > self.limit:
            self._quick = False
            self._next_probe = self._clock() + self._probe_every
            return True
        return False

    @property
    def quick(self) -> bool:
        """The work runs on the loop (not only as a probe)."""
        return self._quick

    @property
    def average(self) -> float:
        return self._average
