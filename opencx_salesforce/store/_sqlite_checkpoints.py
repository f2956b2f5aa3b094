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
changed, more for large values).
"""

from __future__ import annotations

# SQLite's default wal_autocheckpoint. [src: sqlite.org pragma.html]
CHECKPOINT_PAGES = 1000

# Commits before the first checkpoint, until one has told the WAL's size.
_FIRST_GUESS = 100
_MOST_COMMITS = 10_000


class CheckpointSchedule:
    """Counts the writer's commits since its last checkpoint."""

    def __init__(self) -> None:
        self.every = _FIRST_GUESS
        self._since = 0
        self.checkpoints = 0  # run so far (tests count them)

    @property
    def due(self) -> bool:
        return self._since >= self.every

    def committed(self) -> None:
        self._since += 1

    def checkpointed(self, wal_pages: int) -> None:
        """One ran; the WAL held ``wal_pages`` pages when it did."""
        self.checkpoints += 1
        if self._since and wal_pages > 0:
            pages_a_commit = wal_pages / self._since
            self.every = max(1, min(_MOST_COMMITS, round(CHECKPOINT_PAGES / pages_a_commit)))
        self._since = 0
