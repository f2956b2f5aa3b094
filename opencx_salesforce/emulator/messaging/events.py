"""The event log behind the stream: every event the emulator has sent, by end
user, with ids increasing across the emulator, and a way for a stream to wait for
the next one of its end user."""

from __future__ import annotations

import asyncio
import bisect
from typing import Any

from opencx_salesforce.emulator.messaging.entries import Event


class EventLog:
    def __init__(self) -> None:
        self.last_id = 0
        self._by_subject: dict[str, list[Event]] = {}
        self._waiters: dict[str, asyncio.Event] = {}

    def append(self, subject: str, event_type: str, data: dict[str, Any]) -> Event:
        self.last_id += 1
        event = Event(self.last_id, subject, event_type, data)
        self._by_subject.setdefault(subject, []).append(event)
        waiter = self._waiters.pop(subject, None)
        if waiter is not None:
            waiter.set()
        return event

    def after(self, subject: str, last_id: int) -> list[Event]:
        """The subject's events with an id above ``last_id``, oldest first."""
        events = self._by_subject.get(subject, [])
        start = bisect.bisect_right(events, last_id, key=lambda event: event.id)
        return events[start:]

    def waiter(self, subject: str) -> asyncio.Event:
        """Set on the subject's next event; take it before reading ``after``."""
        return self._waiters.setdefault(subject, asyncio.Event())

    def wake_all(self) -> None:
        """Wake every waiting stream (to notice an emulator control, e.g. a drop)."""
        waiters, self._waiters = self._waiters, {}
        for waiter in waiters.values():
            waiter.set()
