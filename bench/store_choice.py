"""The store under the benchmarked host: memory, SQLite, Redis or PostgreSQL, each
fresh (a new file, key prefix or schema) and removed afterwards, with a count of
what the plugin and host asked of it.

``StoreCount`` wraps any store and counts protocol calls (``get``, ``lease``, …).
For PostgreSQL it also reads the store's own count of statements sent
(:attr:`PostgresStore.round_trips`: one round trip each, retries included).

    --store memory | sqlite | redis | postgres
"""

from __future__ import annotations

import os
import shutil
import tempfile
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

from opencx_salesforce.store import Store, open_store

STORES = ("memory", "sqlite", "redis", "postgres")
REDIS_URL = os.environ.get("OPENCX_BENCH_REDIS_URL", "redis://127.0.0.1:6379/0")
POSTGRES_URL = os.environ.get(
    "OPENCX_BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test"
)
_PROTOCOL = (
    "get",
    "set",
    "set_many",
    "set_if_absent",
    "compare_and_set",
    "delete",
    "keys",
    "enqueue",
    "lease",
    "ack",
    "retry_in",
    "bury",
    "revive",
    "hurry",
    "items",
    "wait",
)
# The optional capabilities of a store (store/base.py).
_OPTIONAL = ("enqueue_leased", "get_many")


class StoreCount:
    """A store that counts the protocol calls made through it."""

    def __init__(self, inner: Store) -> None:
        self.inner = inner
        self.calls: Counter[str] = Counter()
        for name in _PROTOCOL:
            setattr(self, name, self._counted(name, getattr(inner, name)))
        for name in _OPTIONAL:  # offered only where the store offers it
            if hasattr(inner, name):
                setattr(self, name, self._counted(name, getattr(inner, name)))

    def _counted(self, name: str, method: Callable[..., Awaitable[Any]]) -> Any:
        async def call(*args: Any, **kwargs: Any) -> Any:
            self.calls[name] += 1
            return await method(*args, **kwargs)

        return call

    def round_trips(self) -> int | None:
        """Statements the store sent to its database, where it counts them."""
        count = getattr(self.inner, "round_trips", None)
        return count if isinstance(count, int) else None

    async def close(self) -> None:
        await self.inner.close()


@dataclass
class OpenedStore:
    store: Store  # what the host and the plugin are given: the counter, when counting
    counter: StoreCount | None
    cleanup: Callable[[], Awaitable[None]]

    def counted(self) -> StoreCount:
        if self.counter is None:
            raise TypeError("the store was opened with count=False")
        return self.counter

    def snapshot(self) -> tuple[int, int | None]:
        """(protocol calls, database round trips) so far."""
        counter = self.counted()
        return sum(counter.calls.values()), counter.round_trips()


async def open_bench_store(kind: str, *, count: bool = True) -> OpenedStore:
    """A fresh store of ``kind``. ``count``: behind a :class:`StoreCount` (a
    throughput cell passes False: the wrapper's own call per operation is
    measurement, not the plugin's cost)."""
    store, cleanup = await _open(kind)
    if not count:
        return OpenedStore(store, None, cleanup)
    counter = StoreCount(store)
    # The counter offers the protocol's methods, set on each instance.
    return OpenedStore(cast(Store, counter), counter, cleanup)


async def _open(kind: str) -> tuple[Store, Callable[[], Awaitable[None]]]:
    if kind == "memory":
        return await open_store("memory://"), _nothing
    if kind == "sqlite":
        folder = Path(tempfile.mkdtemp(prefix="opencx-bench-"))
        sqlite_store = await open_store(f"sqlite:///{folder / 'bench.db'}")

        async def remove_folder() -> None:
            # The database and its WAL: tens of MB a cell, hundreds in a run.
            shutil.rmtree(folder, ignore_errors=True)

        return sqlite_store, remove_folder
    if kind == "redis":
        from opencx_salesforce.store.redis import RedisStore

        prefix = f"opencx-bench:{uuid.uuid4().hex}:"
        redis_store = await RedisStore.open(REDIS_URL, prefix=prefix)

        async def forget_keys() -> None:
            import redis.asyncio as aioredis

            client = aioredis.Redis.from_url(REDIS_URL)
            try:
                keys = [key async for key in client.scan_iter(match=f"{prefix}*")]
                if keys:
                    await client.delete(*keys)
            finally:
                await client.aclose()

        return redis_store, forget_keys
    if kind == "postgres":
        import asyncpg

        schema = f"opencx_bench_{os.getpid()}_{uuid.uuid4().hex[:8]}"
        url = f"{POSTGRES_URL}?schema={schema}"
        opened = await open_store(url)

        async def drop_schema() -> None:
            conn = await asyncpg.connect(POSTGRES_URL)
            try:
                await conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
            finally:
                await conn.close()

        return opened, drop_schema
    raise ValueError(f"unknown store {kind!r}: one of {', '.join(STORES)}")


async def _nothing() -> None:
    return None
