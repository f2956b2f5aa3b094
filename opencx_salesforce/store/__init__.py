"""Stores: one protocol (:mod:`.base`), three backends.

``open_store(url)`` picks the backend from a URL:

* ``memory://`` — in-process, for tests and one-off scripts;
* ``sqlite:///path/to/file.db`` — the embedded default (WAL; several processes may
  share the file);
* ``redis://host:port/db`` — several host instances sharing one Redis.
"""

from __future__ import annotations

from opencx_salesforce.store.base import ItemState, Lease, QueueItem, Store

__all__ = ["ItemState", "Lease", "QueueItem", "Store", "open_store"]


async def open_store(url: str) -> Store:
    """Open the store named by ``url``. Raises ``ValueError`` naming the URL when
    the scheme is unknown."""
    scheme = url.split(":", 1)[0].lower()
    if scheme == "memory":
        from opencx_salesforce.store.memory import MemoryStore

        return MemoryStore()
    if scheme == "sqlite":
        from opencx_salesforce.store.sqlite import SQLiteStore

        return await SQLiteStore.open(url)
    if scheme in ("redis", "rediss", "unix"):
        from opencx_salesforce.store.redis import RedisStore

        return await RedisStore.open(url)
    raise ValueError(
        f"unknown store URL {url!r}: expected memory://, sqlite:///PATH or redis://HOST:PORT/DB"
    )
