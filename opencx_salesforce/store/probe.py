"""Does a store take a write and give it back? What the reference host's
``/healthz`` and ``doctor``'s store check both ask."""

from __future__ import annotations

import secrets
from dataclasses import dataclass

from opencx_salesforce.store.base import Store

PROBE_TTL = 60.0


@dataclass(frozen=True)
class WriteProbe:
    error: Exception | None = None  # the store refused (its exception)
    lost: bool = False  # it took the write, then did not give it back

    @property
    def ok(self) -> bool:
        return self.error is None and not self.lost


async def probe_write(store: Store, ns: str) -> WriteProbe:
    """Write a fresh value under ``ns`` and read it back, then delete it: a probe
    leaves nothing behind (its own key, so concurrent probes of several instances
    never read each other's; a TTL in case the delete is lost)."""
    value = secrets.token_hex(8)
    key = f"write-probe:{value}"
    try:
        await store.set(ns, key, value.encode(), ttl=PROBE_TTL)
        back = await store.get(ns, key)
        await store.delete(ns, key)
    except Exception as exc:  # any failure of the store is the answer
        return WriteProbe(error=exc)
    return WriteProbe(lost=back != value.encode())
