"""How the reference host's process collects cyclic garbage while it serves.

CPython frees almost every object the moment its last reference goes; the
cyclic collector is only for reference cycles. It runs whenever 700 more
container objects have been made than freed (``gc.get_threshold()[0]``), and
each run walks every young object that is still alive. A host under load holds
many such objects only for the length of a request (100 handoffs in flight hold
about 4,000: the session's messages, the job, its coroutines and futures), so at
700 nearly every run walks live objects and frees nothing, promotes them, and
walks them again in the older generations; a full run walks every object the
process made at start-up (modules, classes: about 120,000). Measured in
``bench/`` (100 concurrent handoffs, 50 ms round trips, SQLite): 14 % of the
process's time in the collector, all of it finding nothing.

So once the host has started, :func:`settle_for_serving` collects what start-up
left, moves everything alive to the permanent generation (``gc.freeze``: never
walked again) and raises the first threshold. Cycles are still collected, in
rarer, larger runs. Python's documentation on both:
https://docs.python.org/3/library/gc.html#gc.freeze and
https://docs.python.org/3/library/gc.html#gc.set_threshold.

This is the host's choice for its whole process, not the plugin's: the plugin
never touches the collector. A host that embeds the plugin makes its own
(docs/operations.md).
"""

from __future__ import annotations

import contextlib
import gc
from collections.abc import Iterator
from dataclasses import dataclass

# Above the live young objects of several hundred requests in flight: a run
# then mostly finds objects already freed, not live ones to walk and promote.
SERVING_THRESHOLD = 50_000


@dataclass(frozen=True)
class Collector:
    """What the collector was set to, to put it back (tests, a host that stops)."""

    thresholds: tuple[int, int, int]
    frozen: int  # objects moved to the permanent generation


def settle_for_serving(threshold: int = SERVING_THRESHOLD) -> Collector | None:
    """Once start-up is done: collect, freeze what is alive, raise the first
    threshold to ``threshold``. ``0`` leaves the collector as it is (None)."""
    if threshold <= 0:
        return None
    before = gc.get_threshold()
    gc.collect()  # start-up's own cycles go now, not frozen for ever
    gc.freeze()
    gc.set_threshold(threshold, before[1], before[2])
    return Collector(thresholds=before, frozen=gc.get_freeze_count())


@contextlib.contextmanager
def settled_for_serving(threshold: int = SERVING_THRESHOLD) -> Iterator[Collector | None]:
    """:func:`settle_for_serving` for the length of a ``with`` (a host's serving,
    a benchmark's timed loop), :func:`restore` after."""
    settled = settle_for_serving(threshold)
    try:
        yield settled
    finally:
        restore(settled)


def restore(previous: Collector | None) -> None:
    """Undo :func:`settle_for_serving`: the old thresholds, nothing frozen."""
    if previous is None:
        return
    gc.unfreeze()
    gc.set_threshold(*previous.thresholds)
