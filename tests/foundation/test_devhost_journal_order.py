"""The reference host writes a hook call down before the session change that
triggers it is stored (a host that dies in between replays the call), while
reading the session meanwhile: the journal's write and the read share a wait."""

from __future__ import annotations

import asyncio
from typing import Any

from foundation_support import StartHost

from opencx_salesforce.devhost.journal import JOURNAL_NS
from opencx_salesforce.models import Role
from opencx_salesforce.store.memory import MemoryStore


class SlowJournal(MemoryStore):
    """Journal writes take a while; every call's start and end is recorded."""

    def __init__(self) -> None:
        super().__init__()
        self.events: list[str] = []

    async def set(self, ns: str, key: str, value: bytes, *, ttl: float | None = None) -> None:
        if ns == JOURNAL_NS:
            self.events.append("journal write starts")
            await asyncio.sleep(0.05)
            self.events.append("journal written")
        await super().set(ns, key, value, ttl=ttl)

    async def get(self, ns: str, key: str) -> bytes | None:
        if ns == "devhost.sessions":
            self.events.append("session read")
        return await super().get(ns, key)

    async def compare_and_set(self, ns: str, key: str, *args: Any, **kwargs: Any) -> bool:
        if ns == "devhost.sessions":
            self.events.append("session written")
        return await super().compare_and_set(ns, key, *args, **kwargs)


async def test_the_hook_call_is_written_down_before_the_session_changes(
    start_host: StartHost,
) -> None:
    store = SlowJournal()
    host = await start_host(store=store, plugins={})
    session = await host.create_session()
    host._session_repository = None  # its cache cold, as after a restart

    store.events.clear()
    await host.handoff(session.id)
    events = store.events
    # Written down before the change; the session read meanwhile, not after.
    assert events.index("journal written") < events.index("session written")
    assert events.index("session read") < events.index("journal written")

    store.events.clear()
    await host.post_message(session.id, Role.CONTACT, "Hello?")
    assert store.events.index("journal written") < store.events.index("session written")
