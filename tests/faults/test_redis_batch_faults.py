"""The Redis store's batches (#18) when the server misbehaves, on a Redis of
this test's own: a server that stops answering fails every call of the batch
with redis-py's own TimeoutError and the store works again once it answers;
a restarted server, which has lost the store's scripts, is given them again."""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis.asyncio as aioredis
from redis.exceptions import RedisError
from redis.exceptions import TimeoutError as RedisTimeoutError
from test_store_wipe import OwnRedis

from opencx_salesforce.store.redis import RedisStore

pytestmark = pytest.mark.skipif(shutil.which("redis-server") is None, reason="needs redis-server")

# A script that keeps the server busy (it answers nobody meanwhile) for ARGV[1] ms.
BUSY = """
local function ms() local t = redis.call('TIME'); return t[1] * 1000 + t[2] / 1000 end
local stop = ms() + tonumber(ARGV[1])
while ms() < stop do end
return 1
"""


@pytest.fixture
def own_redis(tmp_path: Path) -> Iterator[OwnRedis]:
    server = OwnRedis(tmp_path)
    server.start()
    try:
        yield server
    finally:
        server.stop()


async def test_a_server_that_stops_answering_fails_the_batch_then_the_store_recovers(
    own_redis: OwnRedis,
) -> None:
    store = await RedisStore.open(f"{own_redis.url}?socket_timeout=0.3", prefix="p:")
    busy = aioredis.Redis.from_url(own_redis.url)
    try:
        await store.set("ns", "k", b"v")
        blocking = asyncio.create_task(busy.eval(BUSY, 0, 1200))
        await asyncio.sleep(0.1)  # the server is in the script now
        started = time.monotonic()
        results = await asyncio.gather(
            store.get("ns", "k"), store.set("ns", "k2", b"w"), return_exceptions=True
        )
        assert time.monotonic() - started < 1.0  # the socket timeout, not the script
        assert all(isinstance(result, RedisTimeoutError) for result in results), results
        assert await blocking == 1
        assert await store.get("ns", "k") == b"v"
    finally:
        await busy.aclose()
        await store.close()


async def test_a_restarted_server_is_given_the_scripts_again(own_redis: OwnRedis) -> None:
    store = await RedisStore.open(own_redis.url, prefix="p:")
    try:
        await store.set("ns", "k", b"v")
        own_redis.restart()  # no persistence: data and scripts are gone
        with contextlib.suppress(RedisError):  # the first command may meet the old connection
            await store.get("ns", "k")
        results = await asyncio.gather(*[store.set("ns", f"k{n}", b"v") for n in range(5)])
        assert results == [None] * 5
        assert await store.keys("ns") == [f"k{n}" for n in range(5)]
    finally:
        await store.close()
