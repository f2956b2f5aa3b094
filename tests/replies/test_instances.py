"""Several host instances share one store: each reply reaches the contact once,
whichever instance the webhooks land on (the memory store shared in-process, and
a real Redis server)."""

from __future__ import annotations

import asyncio
import uuid

import pytest
from replies_support import (
    Rep,
    World,
    WorldFactory,
    agent_messages,
    case_of,
    handed_off,
    idle,
    ring,
    sweep,
)

from opencx_salesforce.apex import contract
from opencx_salesforce.store.redis import RedisStore

COMMENT = contract.EVENT_CASE_COMMENT_CREATED
REDIS_URL = "redis://127.0.0.1:6379/0"


async def _each_reply_once_across_two_instances(world: World) -> None:
    first = await world.start_node()
    second = await world.start_node()
    sessions = [await handed_off(first) for _ in range(4)]
    case_ids = [await case_of(first, s.id) for s in sessions]
    rep = Rep(world.org)
    written: dict[str, list[str]] = {s.id: [] for s in sessions}
    calls = []
    for n in range(3):
        world.emulator.state.clock.advance(1.0)
        for session, case_id in zip(sessions, case_ids, strict=True):
            record = rep.comment(case_id, f"Reply {n}")
            written[session.id].append(record)
            # Every call reaches both instances, twice: four deliveries offered.
            calls += [ring(world, node, COMMENT, case_id, record) for node in (first, second)] * 2
    await asyncio.gather(*calls)
    await idle(world)
    # Both sweep at once too; the lock lets one through, the other finds nothing new.
    await asyncio.gather(sweep(first.runtime), sweep(second.runtime))

    for session in sessions:
        # The host itself would hide a duplicate (it dedupes by external_id), so
        # count what the plugins delivered as well as what the session shows.
        messages = await agent_messages(second, session.id)
        assert [m[2] for m in messages] == written[session.id]
    assert sum(n.runtime.reply_status.deliveries for n in (first, second)) == 12


async def test_two_instances_on_one_memory_store_deliver_each_reply_once(
    make_world: WorldFactory,
) -> None:
    await _each_reply_once_across_two_instances(await make_world())


@pytest.mark.redis
async def test_two_instances_on_one_redis_store_deliver_each_reply_once(
    make_world: WorldFactory,
) -> None:
    prefix = f"opencx-test-replies:{uuid.uuid4().hex}:"
    store = await RedisStore.open(REDIS_URL, prefix=prefix)
    world = await make_world(store=store)
    try:
        await _each_reply_once_across_two_instances(world)
    finally:
        for node in list(world.nodes):
            await world.stop_node(node)
        await _forget(prefix)
        await store.close()


async def _forget(prefix: str) -> None:
    import redis.asyncio as aioredis

    client = aioredis.Redis.from_url(REDIS_URL)
    try:
        keys = [key async for key in client.scan_iter(match=f"{prefix}*")]
        if keys:
            await client.delete(*keys)
    finally:
        await client.aclose()
