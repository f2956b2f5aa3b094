"""The PostgreSQL store's own connection lending (#18): connections stay out of
the asyncpg pool between statements, never more than ``pool_max``, a closed one
is replaced, and idle ones go back to the pool."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator

import asyncpg
import pytest
from store_backends import POSTGRES_URL, drop_schema, fresh_schema, postgres_url

from opencx_salesforce.store._pg_lender import Lender
from opencx_salesforce.store.postgres import PostgresStore

pytestmark = pytest.mark.postgres


@pytest.fixture
async def pool() -> AsyncIterator[asyncpg.Pool]:
    opened = await asyncpg.create_pool(POSTGRES_URL, min_size=0, max_size=3)
    yield opened
    await opened.close()


async def _statement(lender: Lender, seen: set[int], sleep: float = 0.01) -> None:
    connection = await lender.acquire()
    try:
        seen.add(await connection.fetchval("SELECT pg_backend_pid()"))
        await asyncio.sleep(sleep)
    finally:
        await lender.release(connection)


async def test_more_callers_than_connections_take_turns_on_at_most_size(
    pool: asyncpg.Pool,
) -> None:
    lender = Lender(pool, size=3)
    seen: set[int] = set()
    await asyncio.gather(*[_statement(lender, seen) for _ in range(40)])
    assert len(seen) == 3
    # Kept between statements: the same connections serve the next ones.
    await asyncio.gather(*[_statement(lender, seen) for _ in range(10)])
    assert len(seen) == 3
    await lender.close()


async def test_a_closed_connection_is_replaced_from_the_pool(pool: asyncpg.Pool) -> None:
    lender = Lender(pool, size=1)
    connection = await lender.acquire()
    waiting = asyncio.create_task(_statement(lender, set()))
    await asyncio.sleep(0.05)
    assert not waiting.done()  # the only place is taken
    connection.terminate()
    await lender.release(connection)
    await asyncio.wait_for(waiting, 5)  # on a new connection
    seen: set[int] = set()
    await _statement(lender, seen)
    assert len(seen) == 1
    await lender.close()


async def test_a_cancelled_waiter_loses_no_place(pool: asyncpg.Pool) -> None:
    lender = Lender(pool, size=1)
    connection = await lender.acquire()
    waiting = asyncio.create_task(lender.acquire())
    await asyncio.sleep(0.01)
    waiting.cancel()
    await lender.release(connection)
    with pytest.raises(asyncio.CancelledError):
        await waiting
    await asyncio.wait_for(_statement(lender, set()), 5)
    await lender.close()


async def test_idle_connections_go_back_to_the_pool(pool: asyncpg.Pool) -> None:
    lender = Lender(pool, size=3, idle_for=0.1)
    await asyncio.gather(*[_statement(lender, set()) for _ in range(6)])
    assert pool.get_idle_size() == 0  # all three kept by the lender
    await asyncio.sleep(0.3)
    assert pool.get_idle_size() == 3
    await asyncio.wait_for(_statement(lender, set()), 5)
    await lender.close()
    assert pool.get_idle_size() == 3


async def test_a_statement_cancelled_midway_leaves_no_busy_connection_to_lend(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A connection the store keeps is lent again after a statement on it was
    cancelled (asyncpg cancels it on the server): the next statement runs at
    once, on it, and is not tried again."""
    name = fresh_schema()
    store = await PostgresStore.open(postgres_url(name, pool_max=1))
    try:
        await store.set("ns", "k", b"v")
        sleeping = asyncio.create_task(store._sql.fetch("SELECT pg_sleep(5)"))
        await asyncio.sleep(0.2)
        sleeping.cancel()
        with pytest.raises(asyncio.CancelledError):
            await sleeping
        caplog.set_level(logging.WARNING, logger="opencx_salesforce.store")
        before = store.round_trips
        assert await asyncio.wait_for(store.get("ns", "k"), 2) == b"v"  # not after the sleep
        assert store.round_trips == before + 1  # not tried again
        assert not [r for r in caplog.records if "trying again" in r.getMessage()]
    finally:
        await store.close()
        await drop_schema(name)
