"""Stores: one protocol (:mod:`.base`), four backends.

``open_store(url)`` picks the backend from a URL:

* ``memory://`` — in-process, for tests and one-off scripts;
* ``sqlite:///path/to/file.db`` — the embedded default (WAL; several processes may
  share the file);
* ``postgresql://user@host:5432/db?schema=opencx`` (or ``postgres://``) — several
  host instances sharing one PostgreSQL database, the durable multi-instance
  store (query parameters: :mod:`._pg_url`);
* ``redis://host:port/db`` — several host instances sharing one Redis (durable
  only as far as the server's persistence is configured).
"""

from __future__ import annotations

from urllib.parse import urlsplit, urlunsplit

from opencx_salesforce.errors import OpenCXSalesforceError, StoreUnavailable
from opencx_salesforce.store.base import ItemState, Lease, QueueItem, Store

__all__ = ["ItemState", "Lease", "QueueItem", "Store", "open_store"]


async def open_store(url: str) -> Store:
    """Open the store named by ``url``. Raises ``ValueError`` naming the URL when
    the scheme is unknown, :class:`~opencx_salesforce.errors.StoreUnavailable`
    naming it (without its password) and the cause when the store does not open."""
    try:
        store = await _open(url)
    except (OpenCXSalesforceError, ValueError):
        raise
    except Exception as exc:  # the server's, the driver's or the file system's error
        raise StoreUnavailable(
            f"cannot open the store at {_without_password(url)}: {type(exc).__name__}: {exc}"
        ) from exc
    if store is None:
        raise ValueError(
            f"unknown store URL {url!r}: expected memory://, sqlite:///PATH, "
            "postgresql://USER@HOST:PORT/DB or redis://HOST:PORT/DB"
        )
    return store


def _without_password(url: str) -> str:
    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.netloc.rsplit("@", 1)[-1]
    return urlunsplit(parts._replace(netloc=f"{parts.username or ''}:***@{host}"))


async def _open(url: str) -> Store | None:
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
    if scheme in ("postgresql", "postgres"):
        from opencx_salesforce.store.postgres import PostgresStore

        return await PostgresStore.open(url)
    return None
