"""Two host instances on one PostgreSQL schema: the two-instance scenario of
``test_two_instances_redis.py`` (same handoffs from both hosts at once, webhooks
duplicated and replayed to both, sweeps overlapping, Salesforce failing at
random), with each instance on its own connection pool and LISTEN connection.

The scenario is imported, not copied: only the store under the hosts differs.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import AsyncIterator

import aiohttp
import pytest
from faults_postgres_support import POSTGRES_URL, drop_schema, fresh_schema
from faults_support import FAST_RETRIES, WATCH, HostApi
from test_two_instances_redis import SECRET, Instance, Pair, counting
from test_two_instances_redis import (
    test_two_instances_take_the_same_handoffs_and_webhooks_exactly_once as scenario,
)

from opencx_salesforce.devhost.stack import start_host
from opencx_salesforce.emulator.app import Emulator
from opencx_salesforce.emulator.seed import DEMO_CLIENT_ID, DEMO_CLIENT_SECRET, default_org
from opencx_salesforce.store.postgres import PostgresStore

pytestmark = pytest.mark.postgres


@pytest.fixture
async def pg_pair(http: aiohttp.ClientSession) -> AsyncIterator[Pair]:
    schema = fresh_schema()
    url = f"{POSTGRES_URL}?schema={schema}&pool_max=4"
    stores = [await PostgresStore.open(url) for _ in range(2)]
    emulator = Emulator()
    await emulator.start()
    org = emulator.state.add_org(default_org())
    WATCH.secret(SECRET, "webhook signing secret")
    settings = {**FAST_RETRIES, "webhook_signing_secret": SECRET}
    instances = []
    try:
        for name, store in zip("ab", stores, strict=True):
            host, plugin, base_url = await start_host(
                store=store, emulator_url=emulator.base_url, plugin_settings=settings
            )
            delivered: Counter[tuple[str, str]] = Counter()
            counting(host, delivered)
            api = HostApi(http, base_url, host.settings.admin_token_value())
            instances.append(Instance(name, host, plugin, base_url, api, delivered))
        a, b = instances
        assert a.plugin.services is not None
        emulator.state.auth.set_callback_urls(DEMO_CLIENT_ID, [a.plugin.services.redirect_uri])
        await a.plugin.services.tokens.save_credentials(
            emulator.base_url, DEMO_CLIENT_ID, DEMO_CLIENT_SECRET
        )
        await a.plugin.services.tokens.connect_client_credentials()
        yield Pair(emulator, org, a, b, http)
    finally:
        for instance in instances:
            await instance.host.stop()
        await emulator.close()
        for store in stores:
            await store.close()
        await drop_schema(schema)


async def test_two_instances_on_postgres_take_the_same_handoffs_and_webhooks_exactly_once(
    pg_pair: Pair,
) -> None:
    print(
        "\n(the next line's 'on Redis' is the shared scenario's label: this run is on PostgreSQL)"
    )
    await scenario(pg_pair)
