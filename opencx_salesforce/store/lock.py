"""A lock shared by every host instance on the store."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from opencx_salesforce.errors import LockBusy
from opencx_salesforce.store import namespaces
from opencx_salesforce.store.base import Store

LOCKS_NS = namespaces.LOCKS


@asynccontextmanager
async def store_lock(store: Store, name: str, ttl: float) -> AsyncIterator[None]:
    """Hold the lock ``name``. ``ttl`` (seconds, on the store's clock) bounds how
    long a crashed holder can block the others. Raises :class:`LockBusy` at once
    when held: callers reschedule rather than wait."""
    token = secrets.token_hex(8).encode()
    if not await store.set_if_absent(LOCKS_NS, name, token, ttl=ttl):
        raise LockBusy(name)
    try:
        yield
    finally:
        await store.compare_and_set(LOCKS_NS, name, token, None)
