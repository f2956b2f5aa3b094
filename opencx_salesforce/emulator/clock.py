"""The emulator's notion of time, injectable so tests can jump past a session
timeout or an app's activation delay without sleeping."""

from __future__ import annotations

import time
from datetime import UTC, datetime


class Clock:
    """Wall-clock seconds, plus an offset tests may advance."""

    def __init__(self) -> None:
        self._offset = 0.0

    def now(self) -> float:
        return time.time() + self._offset

    def utcnow(self) -> datetime:
        return datetime.fromtimestamp(self.now(), UTC)

    def advance(self, seconds: float) -> None:
        self._offset += seconds
