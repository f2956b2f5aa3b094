"""When the SQLite store's writer checkpoints its WAL, since it runs commits
on the event loop.

SQLite checkpoints inside the ``COMMIT`` that takes the WAL past
``wal_autocheckpoint`` pages (1,000 by default): the commit then copies the
WAL's pages into the database file and fsyncs it, milliseconds rather than a
fraction of one. [src: sqlite.org wal.html "Automatic Checkpoint"; pragma.html
"PRAGMA wal_autocheckpoint"] A commit on the loop must not do that, so the
writer's connection turns automatic checkpoints off and the store asks for one
itself, as SQLite would, about every :data:`CHECKPOINT_PAGES` pages: the batch
that falls due commits on the writer's thread and checkpoints there right
after (``PRAGMA wal_checkpoint(PASSIVE)``: "as many frames as possible
without waiting for any database readers or writers to finish", and it reports
the WAL's size in frames). No write of this store runs in between, so the next write
starts the WAL over from its beginning once the checkpoint has copied it all,
as after an automatic checkpoint: the WAL stays bounded.
[src: sqlite.org c3ref/wal_checkpoint_v2.html; wal.html "Avoiding Excessively
Large WAL Files"]

How many commits make :data:`CHECKPOINT_PAGES` pages is learned from each
checkpoint's report of the WAL's size (a commit writes a page per page it
changed, more for large values). That guess can be far off: a soak's first
checkpoint came after a hundred idle commits that wrote 11 pages in all, the
next was set 9,182 commits away, and the load that followed grew the WAL to
118 MB before it. So the WAL file's own size calls a checkpoint too, once it
has grown :data:`CHECKPOINT_PAGES` pages past where the last one left it; and
the writer's ``journal_size_limit`` cuts the file back to that many pages each
time the WAL starts over (SQLite keeps a WAL file at its largest otherwise).
[src: sqlite.org pragma.html "PRAGMA journal_size_limit"; wal.html "Avoiding
Excessively Large WAL Files"]
"""

from __future__ import annotations

import os
import sqlite3

# SQLite's default wal_autocheckpoint. [src: sqlite.org pragma.html]
CHECKPOINT_PAGES = 1000

# Commits before the first checkpoint, until one has told the WAL's size.
_FIRST_GUESS = 100
_MOST_COMMITS = 10_000


class CheckpointSchedule:
    """Counts the writer's commits since its last checkpoint, and watches the
    size of the WAL file at ``wal_path`` (pages of ``page_size`` bytes)."""

    def __init__(self, wal_path: str | None = None, page_size: int = 4096) -> None:
        self.every = _FIRST_GUESS
        self._since = 0
        self.checkpoints = 0  # run so far (tests count them)
        self._wal_path = wal_path
        self._growth = CHECKPOINT_PAGES * page_size
        self._due_at_bytes = self._growth

    @property
    def due(self) -> bool:
        return self._since >= self.every or self._wal_bytes() >= self._due_at_bytes

    def _wal_bytes(self) -> int:
        if self._wal_path is None:
            return 0
        try:
            return os.stat(self._wal_path).st_size
        except OSError:
            return 0

    def committed(self) -> None:
        self._since += 1

    def checkpointed(self, wal_pages: int) -> None:
        """One ran; the WAL held ``wal_pages`` pages when it did."""
        self.checkpoints += 1
        if self._since and wal_pages > 0:
            pages_a_commit = wal_pages / self._since
            self.every = max(1, min(_MOST_COMMITS, round(CHECKPOINT_PAGES / pages_a_commit)))
        self._since = 0
        # Due again once the file grows as much again: a WAL that started over
        # (and was cut back) is at most CHECKPOINT_PAGES long; one a reader kept
        # from starting over does not call a checkpoint at every commit.
        self._due_at_bytes = max(self._wal_bytes(), self._growth) + self._growth


def limit_wal_file(db: sqlite3.Connection) -> int:
    """Make the writer cut its WAL file back to CHECKPOINT_PAGES pages each
    time the WAL starts over; the database's page size."""
    page_size = int(db.execute("PRAGMA page_size").fetchone()[0])
    db.execute(f"PRAGMA journal_size_limit = {CHECKPOINT_PAGES * page_size}").fetchall()
    return page_size
