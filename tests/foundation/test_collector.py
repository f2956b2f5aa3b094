"""The reference host's collector policy (``devhost/collector.py``): once started,
start-up is frozen out of the collector and the first threshold raised; 0 leaves
Python's collector alone; restoring puts back what was there."""

from __future__ import annotations

import gc

from opencx_salesforce.devhost.collector import restore, settle_for_serving


def test_settling_freezes_start_up_and_raises_the_first_threshold() -> None:
    before = gc.get_threshold()
    assert gc.get_freeze_count() == 0
    settled = settle_for_serving(12_345)
    try:
        assert settled is not None
        assert gc.get_threshold() == (12_345, before[1], before[2])
        assert settled.thresholds == before
        assert settled.frozen == gc.get_freeze_count() > 1_000  # modules, classes, ...
    finally:
        restore(settled)
    assert gc.get_threshold() == before
    assert gc.get_freeze_count() == 0


def test_cycles_are_still_collected_once_settled() -> None:
    settled = settle_for_serving(100)
    try:

        class Node:
            def __init__(self) -> None:
                self.me = self

        collected = []
        gc.callbacks.append(lambda phase, info: collected.append(info.get("collected", 0)))
        try:
            for _ in range(1_000):
                Node()  # a cycle each: only the collector frees it
        finally:
            gc.callbacks.pop()
        assert sum(collected) > 0
    finally:
        restore(settled)


def test_zero_leaves_the_collector_alone() -> None:
    before = gc.get_threshold()
    assert settle_for_serving(0) is None
    assert gc.get_threshold() == before
    assert gc.get_freeze_count() == 0
    restore(None)
