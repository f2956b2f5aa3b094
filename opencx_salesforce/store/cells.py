"""A value in the store updated by compare-and-set: the one read-change-write
loop, so two host instances updating the same key never lose each other's
write."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from opencx_salesforce.store.base import Store


async def update_json(store: Store, ns: str, key: str, change: Callable[[Any], Any]) -> Any:
    """Apply ``change`` to the key's JSON value (``None`` when absent) atomically
    and return the new value; ``change`` returning ``None`` deletes the key."""
    while True:
        raw = await store.get(ns, key)
        current = None if raw is None else json.loads(raw)
        new = change(current)
        encoded = None if new is None else json.dumps(new, sort_keys=True).encode()
        if encoded == raw or await store.compare_and_set(ns, key, raw, encoded):
            return new


async def read_json(store: Store, ns: str, key: str) -> Any:
    """The key's JSON value, ``None`` when absent."""
    raw = await store.get(ns, key)
    return None if raw is None else json.loads(raw)
