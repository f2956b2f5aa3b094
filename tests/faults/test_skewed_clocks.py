"""Two host instances whose wall clocks are 600 s apart (one 300 s ahead, one 300 s
behind), on one Redis and on one PostgreSQL schema: every conversation handed off
and written to through both still lands once, whole, in order.

What decides ownership (a lease's deadline, when a job is due, how old it is, a
lock's expiry) is measured on the store's clock, never an instance's: an instance
whose clock runs ahead must not see the other's live lease as expired and do the
same append again (duplicated comments), and one whose clock runs behind must not
queue work that the other sees as due minutes from now (work stuck).
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator

import aiohttp
import pytest
from faults_clock_support import skewable_time
from faults_postgres_support import POSTGRES_URL, drop_schema, fresh_schema
from faults_support import Talk, case_problems, talk, write_again
from test_two_instances_redis import REDIS_URL, Pair, forget, running_pair, settled

from opencx_salesforce.store.base import ItemState, Store
from opencx_salesforce.store.postgres import PostgresStore
from opencx_salesforce.store.redis import RedisStore

SKEWS = (300.0, -300.0)  # instance a runs 5 min ahead, instance b 5 min behind
CONVERSATIONS = 6
AGAIN = 3  # each customer writes again this many times, through either host


@pytest.fixture
async def redis_stores(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[list[Store]]:
    skewable_time(monkeypatch)
    prefix = f"opencx-skew-{uuid.uuid4().hex[:12]}:"
    stores: list[Store] = [await RedisStore.open(REDIS_URL, prefix=prefix) for _ in range(2)]
    try:
        yield stores
    finally:
        for store in stores:
            await store.close()
        await forget(prefix)


@pytest.fixture
async def postgres_stores(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[list[Store]]:
    skewable_time(monkeypatch)
    schema = fresh_schema()
    url = f"{POSTGRES_URL}?schema={schema}&pool_max=4"
    stores: list[Store] = [await PostgresStore.open(url) for _ in range(2)]
    try:
        yield stores
    finally:
        for store in stores:
            await store.close()
        await drop_schema(schema)


async def scenario(pair: Pair) -> None:
    org, a, b = pair.org, pair.a, pair.b
    # Slow, failing now and then: jobs are retried, and attempts overlap.
    org.faults.error_rate, org.faults.error_kinds = 0.1, ("500", "lock")
    org.faults.latency_ms, org.faults.latency_jitter_ms = 30.0, 20.0
    org.faults.reseed(16)

    conversations: list[Talk] = []
    for n in range(CONVERSATIONS):
        here = (a, b)[n % 2]
        conversation = await talk(here.api, f"skew{n}-{uuid.uuid4().hex[:6]}")
        await here.api.handoff(conversation.session_id)
        conversations.append(conversation)
    for round_ in range(AGAIN):
        # Through the other host each round: appends queued by both clocks.
        await asyncio.gather(
            *(
                write_again((a, b)[(n + round_ + 1) % 2].api, conversation)
                for n, conversation in enumerate(conversations)
            )
        )
    await settled(pair, timeout=60)

    assert pair.a.plugin.is_running
    dead = await pair.a.plugin.runtime.outbox.items(ItemState.DEAD)
    assert not dead, [(item.item_id, item.last_error) for item in dead]
    problems = case_problems(org, conversations)
    assert not problems, "\n".join(problems)
    print(
        f"\nclocks {SKEWS[0]:+.0f} s and {SKEWS[1]:+.0f} s on {pair.store}: "
        f"{len(conversations)} conversations, "
        f"{sum(len(c.texts) for c in conversations)} messages, each once and in order"
    )


@pytest.mark.redis
async def test_two_instances_with_clocks_600_s_apart_on_redis_duplicate_and_lose_nothing(
    http: aiohttp.ClientSession, redis_stores: list[Store]
) -> None:
    async with running_pair(http, redis_stores, "Redis", skews=SKEWS) as pair:
        await scenario(pair)


@pytest.mark.postgres
async def test_two_instances_with_clocks_600_s_apart_on_postgres_duplicate_and_lose_nothing(
    http: aiohttp.ClientSession, postgres_stores: list[Store]
) -> None:
    async with running_pair(http, postgres_stores, "PostgreSQL", skews=SKEWS) as pair:
        await scenario(pair)
