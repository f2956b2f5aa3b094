"""What only the Redis store has: everything under its key prefix, so stores
sharing a server stay apart, and nothing left behind by expired keys."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest
import redis.asyncio as aioredis
from redis.asyncio.connection import Connection
from redis.exceptions import ResponseError
from store_backends import REDIS_URL

from opencx_salesforce.store._redis_batch import pack
from opencx_salesforce.store.redis import RedisStore

pytestmark = pytest.mark.redis


@pytest.fixture
async def server() -> AsyncIterator[aioredis.Redis]:
    """A plain client, to look at what the stores wrote."""
    client = aioredis.Redis.from_url(REDIS_URL)
    yield client
    await client.aclose()


@pytest.fixture
async def prefixes(server: aioredis.Redis) -> AsyncIterator[list[str]]:
    made = [f"opencx-test:{uuid.uuid4().hex}:" for _ in range(2)]
    yield made
    for prefix in made:
        leftovers = [key async for key in server.scan_iter(match=f"{prefix}*")]
        if leftovers:
            await server.delete(*leftovers)


async def test_stores_with_different_prefixes_do_not_see_each_other(
    server: aioredis.Redis, prefixes: list[str]
) -> None:
    first = await RedisStore.open(REDIS_URL, prefix=prefixes[0])
    second = await RedisStore.open(REDIS_URL, prefix=prefixes[1])
    try:
        await first.set("ns", "k", b"first")
        assert await second.get("ns", "k") is None
        assert await second.keys("ns") == []
        assert await second.set_if_absent("ns", "k", b"second") is True
        await first.enqueue("q", "job", b"")
        assert await second.items("q") == []
        assert await second.enqueue("q", "job", b"") is True

        # A waiter under one prefix is not woken by work under another.
        await second.lease("q", visibility_timeout=60)
        waiter = asyncio.create_task(second.wait("q", 0.4))
        await asyncio.sleep(0.1)
        await first.enqueue("q", "another", b"")
        started = time.monotonic()
        await waiter
        assert time.monotonic() - started > 0.2
    finally:
        await first.close()
        await second.close()
    for prefix in prefixes:
        names = [key async for key in server.scan_iter(match=f"{prefix}*")]
        assert f"{prefix}kv:ns:k".encode() in names
        assert f"{prefix}q:q:payload".encode() in names


async def test_expired_keys_leave_nothing_behind(
    server: aioredis.Redis, prefixes: list[str]
) -> None:
    prefix = prefixes[0]
    store = await RedisStore.open(REDIS_URL, prefix=prefix)
    try:
        for n in range(20):
            await store.set("dedupe", f"reply-{n}", b"", ttl=0.1)
        await asyncio.sleep(0.2)
        await store.set("dedupe", "live", b"")
        assert await store.keys("dedupe") == ["live"]
    finally:
        await store.close()
    # The key index of the namespace holds only the live key.
    assert await server.zrange(f"{prefix}kvidx:dedupe", 0, -1) == [b"live"]


async def test_more_concurrent_calls_than_connections_wait_for_one(prefixes: list[str]) -> None:
    """Past its pool's size a call waits for a free connection: redis-py's
    default pool raised "Too many connections" past 100 (#18)."""
    store = await RedisStore.open(f"{REDIS_URL}?max_connections=4", prefix=prefixes[0])
    try:
        await asyncio.gather(*[store.set("ns", f"k{n}", b"v") for n in range(150)])
        values = await asyncio.gather(*[store.get("ns", f"k{n}") for n in range(150)])
        assert values == [b"v"] * 150
        assert len(await store.keys("ns")) == 150
    finally:
        await store.close()


async def test_a_failing_call_fails_alone_among_the_calls_sent_with_it(
    server: aioredis.Redis, prefixes: list[str]
) -> None:
    """Calls issued together share one write (#18); each still gets its own
    reply, so one script's error reaches only its caller."""
    prefix = prefixes[0]
    await server.set(f"{prefix}kvidx:broken", b"not a sorted set")
    store = await RedisStore.open(REDIS_URL, prefix=prefix)
    try:
        results = await asyncio.gather(
            store.set("ns", "before", b"1"),
            store.set("broken", "k", b"v"),  # its script's ZADD meets a string: WRONGTYPE
            store.set("ns", "after", b"2"),
            store.get("ns", "before"),
            return_exceptions=True,
        )
        assert results[0] is None and results[2] is None and results[3] == b"1"
        assert isinstance(results[1], ResponseError) and "WRONGTYPE" in str(results[1])
        assert await store.keys("ns") == ["after", "before"]
    finally:
        await store.close()


async def test_a_call_cancelled_before_it_is_sent_never_runs(prefixes: list[str]) -> None:
    store = await RedisStore.open(REDIS_URL, prefix=prefixes[0])
    try:
        call = asyncio.create_task(store.set("ns", "k", b"v"))
        await asyncio.sleep(0)  # the call waits for its batch, not sent yet
        call.cancel()
        with pytest.raises(asyncio.CancelledError):
            await call
        await asyncio.sleep(0.05)
        assert await store.get("ns", "k") is None
    finally:
        await store.close()


def test_the_batch_packer_writes_what_redis_py_writes() -> None:
    connection = Connection()
    commands: list[tuple[Any, ...]] = [
        ("EVALSHA", "f" * 40, 2, "k:é", "idx", b"\x00\r\n" + bytes(range(256)), "", 17),
        ("GET", "opencx:kv:ns:key"),
        ("SET", "big", b"x" * 70_000),
    ]
    ours = b"".join(pack(commands, "utf-8", "strict"))
    assert ours == b"".join(connection.pack_commands(commands))
