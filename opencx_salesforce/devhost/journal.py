"""The reference host's hook journal: a host change and the plugin hook it
triggers cannot be one atomic write, so the host writes down the hook call it
is about to make first, and crosses it out after. Entries left by a host that
died in between are replayed at the next start (see ``DevHost.start``)."""

from __future__ import annotations

import json
import uuid
from typing import Any

from opencx_salesforce.store.base import Store

JOURNAL_NS = "host.hook_journal"


class HookJournal:
    def __init__(self, store: Store) -> None:
        self._store = store

    async def add(self, entry: dict[str, Any]) -> str:
        key = uuid.uuid4().hex
        await self._store.set(JOURNAL_NS, key, json.dumps(entry).encode())
        return key

    async def done(self, key: str) -> None:
        await self._store.delete(JOURNAL_NS, key)

    async def entries(self) -> list[tuple[str, dict[str, Any]]]:
        found = []
        for key in await self._store.keys(JOURNAL_NS):
            raw = await self._store.get(JOURNAL_NS, key)
            if raw is not None:
                found.append((key, json.loads(raw)))
        return found
