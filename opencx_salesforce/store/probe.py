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
    """Write a fresh value under ``ns`` (with a TTL, so probes leave nothing
    behind) and read it back."""
    value = secrets.token_hex(8).encode()
    try:
        await store.set(ns, "write-probe", value, ttl=PROBE_TTL)
        back = await store.get(ns, "write-probe")
    except Exception as exc:  # any failure of the store is the answer
        return WriteProbe(error=exc)
    return WriteProbe(lost=back != value)
