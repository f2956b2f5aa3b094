"""When an end of a live chat that failed is tried again: after 10 s, then
twice as long each time, up to 15 minutes, and never given up (the end holds
the contact's unread words and the session's resolution). Keeper passes come
every third of the stream lease (10 s by default): without this, an end that
kept failing (the host's resolution refused, the store refusing the append)
was tried, and logged with its traceback, at every pass, without end."""

from __future__ import annotations

FIRST = 10.0
CAP = 900.0


def delay(failures: int) -> float:
    """Seconds before the next try after ``failures`` failures in a row (1, 2, ...)."""
    return float(min(CAP, FIRST * 2 ** max(0, failures - 1)))
