"""Two host instances on one PostgreSQL schema: the two-instance scenario of
``test_two_instances_redis.py`` (same handoffs from both hosts at once, webhooks
duplicated and replayed to both, sweeps overlapping, Salesforce failing at
random), with each instance on its own connection pool and LISTEN connection.

The scenario is imported, not copied: only the store under the hosts differs.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import aiohttp
import pytest
from faults_postgres_support import POSTGRES_URL, drop_schema, fresh_schema
from test_two_instances_redis import Pair, running_pair
from test_two_instances_redis import (
    test_two_instances_take_the_same_handoffs_and_webhooks_exactly_once as scenario,
)

from opencx_salesforce.store.postgres import PostgresStore

pytestmark = pytest.mark.postgres


@pytest.fixture
async def pg_pair(http: aiohttp.ClientSession) -> AsyncIterator[Pair]:
    schema = fresh_schema()
    url = f"{POSTGRES_URL}?schema={schema}&pool_max=4"
    stores = [await PostgresStore.open(url) for _ in range(2)]
    try:
        async with running_pair(http, stores, "PostgreSQL") as made:
            yield made
    finally:
        for store in stores:
            await store.close()
        await drop_schema(schema)


async def test_two_instances_on_postgres_take_the_same_handoffs_and_webhooks_exactly_once(
    pg_pair: Pair,
) -> None:
    await scenario(pg_pair)
