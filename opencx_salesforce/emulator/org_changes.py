"""Record changes of an org: what :attr:`Org.listeners` hear after a write, and
the undo journal behind :meth:`Org.snapshot` / :meth:`Org.restore`."""

from __future__ import annotations

import weakref
from dataclasses import dataclass, field
from typing import Any

Record = dict[str, Any]


@dataclass(frozen=True)
class Change:
    """A record write, as :attr:`Org.listeners` hear it once the org has stored it
    (the simulated package's triggers listen here).

    ``before`` is None for an insert; ``after`` is the record as stored (a delete
    stores it with ``IsDeleted`` true). ``undone`` marks :meth:`Org.restore` putting
    a record back: ``after`` is then the restored record (None when the undone write
    was an insert) and ``user_id`` is None."""

    sobject: str
    record_id: str
    before: Record | None
    after: Record | None
    user_id: str | None
    undone: bool = False


@dataclass(eq=False)
class Snapshot:
    """What :meth:`Org.restore` needs to undo every change made since
    :meth:`Org.snapshot`: an undo journal (kept only while the snapshot is alive)
    and the sequence values."""

    case_number: int
    undo: list[tuple[str, str, Record | None]] = field(default_factory=list)


class Journals:
    """The live snapshots of an org. Cheap: a snapshot journals changes only while
    something references it."""

    def __init__(self) -> None:
        self._live: weakref.WeakSet[Snapshot] = weakref.WeakSet()

    def open(self, case_number: int) -> Snapshot:
        snap = Snapshot(case_number=case_number)
        self._live.add(snap)
        return snap

    def record(self, sobject: str, record_id: str, previous: Record | None) -> None:
        """Note in every live snapshot what ``record_id`` was before this change."""
        for journal in self._live:
            journal.undo.append((sobject, record_id, previous))

    def live(self, snapshot: object) -> Snapshot:
        """``snapshot`` itself; ValueError when it is not a live snapshot of this org."""
        if not isinstance(snapshot, Snapshot) or snapshot not in self._live:
            raise ValueError("not a live snapshot of this org")
        return snapshot
