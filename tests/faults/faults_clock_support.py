"""Skewed wall clocks for in-process host instances.

Two reference hosts in one test process share ``time.time``. To give one of them
a wall clock minutes off, as a second machine without NTP would have,
:func:`skewable_time` replaces ``time.time`` with one that adds the offset of the
*current context*; :func:`skewed` sets that offset while a host starts, so every
task the host creates (its web server's, its outbox workers', its sweeper's)
inherits it, and its plugin's :class:`~opencx_salesforce.clock.SystemClock`,
its store client and everything else that reads the wall clock reads it skewed.
The monotonic clock is left alone, as a skewed machine's would be.
"""

from __future__ import annotations

import contextvars
import time
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

_OFFSET: contextvars.ContextVar[float] = contextvars.ContextVar("wall_clock_offset", default=0.0)


def skewable_time(monkeypatch: pytest.MonkeyPatch) -> None:
    """From now on ``time.time()`` reads the real time plus the context's offset."""
    real = time.time

    def skewable() -> float:
        return real() + _OFFSET.get()

    monkeypatch.setattr(time, "time", skewable)


@contextmanager
def skewed(seconds: float) -> Iterator[None]:
    """Within this block (and in every task created in it), the wall clock runs
    ``seconds`` ahead (behind, if negative)."""
    token = _OFFSET.set(seconds)
    try:
        yield
    finally:
        _OFFSET.reset(token)
