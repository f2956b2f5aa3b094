"""The backends the conformance suite runs against, and how a test opens more
stores that share one backend's data (another process's view of it): separate
connections for SQLite (one file), Redis (one key prefix) and PostgreSQL (one
schema); a MemoryStore lives inside one object, so every "other" store of the
memory backend is that same object. :class:`Backend` is the kit's."""

from __future__ import annotations

import os
import uuid
from pathlib import Path

import asyncpg
import redis.asyncio as aioredis

from opencx_salesforce.store import Store
from opencx_salesforce.store._sqlite_pace import LOOP_LIMIT
from opencx_salesforce.store.memory import MemoryStore
from opencx_salesforce.store.postgres import PostgresStore
from opencx_salesforce.store.redis import RedisStore
from opencx_salesforce.store.sqlite import SQLiteStore
from opencx_salesforce.testing.store_conformance.backend import Backend

REDIS_URL = os.environ.get("OPENCX_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
POSTGRES_URL = os.environ.get(
    "OPENCX_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test"
)


def fresh_schema() -> str:
    """A schema no run has used: reruns never see old rows, other users of the
    server are never touched."""
    return f"opencx_test_{os.getpid()}_{uuid.uuid4().hex[:8]}"


def postgres_url(schema: str, **params: str | int) -> str:
    query = "&".join(f"{name}={value}" for name, value in {"schema": schema, **params}.items())
    return f"{POSTGRES_URL}?{query}"


async def drop_schema(schema: str) -> None:
    """Drop a schema this test run created (and only such a one)."""
    assert schema.startswith("opencx_test_"), schema
    conn = await asyncpg.connect(POSTGRES_URL)
    try:
        await conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
    finally:
        await conn.close()


def memory_backend() -> Backend:
    shared = MemoryStore()

    async def opener() -> Store:
        return shared

    return Backend("memory", opener)


# Where SQLite's work runs, as the limits that put it there: ``loop``, quick
# work on the event loop (a local disk); ``threads``, every commit, statement
# and read on the connections' threads (a slow disk); ``split``, every commit
# on the writer's thread, the statements before it on the loop and every read
# on the reader's thread (slow fsyncs).
SQLITE_PLACEMENTS: dict[str, dict[str, float]] = {
    "loop": {"loop_limit": LOOP_LIMIT},
    "threads": {"loop_limit": 0.0},
    "split": {"loop_limit": 0.0, "statement_limit": LOOP_LIMIT},
}


def sqlite_backend(directory: Path, *, where: str = "loop") -> Backend:
    """A file's store with its work placed ``where`` (:data:`SQLITE_PLACEMENTS`)."""
    url = f"sqlite:///{directory / 'store.db'}"  # absolute path: four slashes
    limits = SQLITE_PLACEMENTS[where]

    async def opener() -> Store:
        return await SQLiteStore.open(url, **limits)

    return Backend("sqlite" if where == "loop" else f"sqlite-{where}", opener)


def redis_backend() -> Backend:
    # A prefix of its own per test: tests (and other users of the server) never
    # see each other's keys, and cleanup deletes exactly what the test made.
    prefix = f"opencx-test:{uuid.uuid4().hex}:"

    async def opener() -> Store:
        return await RedisStore.open(REDIS_URL, prefix=prefix)

    async def cleanup() -> None:
        client = aioredis.Redis.from_url(REDIS_URL)
        try:
            leftovers = [key async for key in client.scan_iter(match=f"{prefix}*")]
            if leftovers:
                await client.delete(*leftovers)
        finally:
            await client.aclose()

    return Backend("redis", opener, cleanup)


def postgres_backend() -> Backend:
    # One schema per test; each store its own small pool, as an instance would.
    schema = fresh_schema()
    url = postgres_url(schema, pool_min=0, pool_max=2)

    async def opener() -> Store:
        return await PostgresStore.open(url)

    async def cleanup() -> None:
        await drop_schema(schema)

    return Backend("postgres", opener, cleanup)


def make_backend(name: str, directory: Path) -> Backend:
    if name == "memory":
        return memory_backend()
    if name == "sqlite":
        return sqlite_backend(directory)
    if name in ("sqlite-threads", "sqlite-split"):
        return sqlite_backend(directory, where=name.removeprefix("sqlite-"))
    if name == "redis":
        return redis_backend()
    if name == "postgres":
        return postgres_backend()
    raise ValueError(name)
