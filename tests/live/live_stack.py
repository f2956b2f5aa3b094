"""A whole stack with the live path on: the emulator (Salesforce and its
Messaging side), an org, a reference host whose plugin sends chat handoffs to the
org's Messaging deployment, connected with client credentials."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import aiohttp

from opencx_salesforce.devhost.stack import Stack, start_host
from opencx_salesforce.emulator.app import Emulator
from opencx_salesforce.emulator.messaging.deployment import DEFAULT_DEPLOYMENT
from opencx_salesforce.emulator.org import Org
from opencx_salesforce.emulator.seed import DEMO_CLIENT_ID, default_org
from opencx_salesforce.live.stream import Backoff
from opencx_salesforce.store.base import Store
from opencx_salesforce.store.memory import MemoryStore

FAST = Backoff(initial=0.01, factor=1.5, cap=0.05)


def live_section(emulator: Emulator, org: Org, **live: Any) -> dict[str, Any]:
    return {
        # The emulator's host stands for the deployment's SCRT URL.
        "scrt_url": emulator.base_url,
        "org_id": org.id,
        "deployment": DEFAULT_DEPLOYMENT,
        "channels": ["chat", "sms", "whatsapp"],
        "stream_lease_seconds": 3.0,
        **live,
    }


async def live_host(
    emulator: Emulator,
    org: Org,
    *,
    store: Store | None = None,
    live: Mapping[str, Any] | None = None,
    extra_plugins: Mapping[str, object] | None = None,
    connect: bool = True,
) -> Stack:
    section = {"live": live_section(emulator, org, **(live or {}))}
    host, plugin, url = await start_host(
        store=store or MemoryStore(),
        emulator_url=emulator.base_url,
        plugin_settings=section,
        extra_plugins=extra_plugins,
    )
    stack = Stack(emulator, org, host, plugin, url)
    emulator.state.auth.set_callback_urls(DEMO_CLIENT_ID, [stack.runtime.redirect_uri])
    if connect:
        await stack.connect_client_credentials()
    live_service = stack.runtime.live
    assert live_service is not None
    live_service.keeper.backoff = FAST  # reconnect at once in tests
    return stack


async def new_emulator() -> tuple[Emulator, Org]:
    emulator = Emulator()
    await emulator.start()
    return emulator, emulator.state.add_org(default_org())


async def json_get(url: str) -> Any:
    async with aiohttp.ClientSession() as http, http.get(url) as response:
        return await response.json()


async def two_hosts(emulator: Emulator, org: Org) -> tuple[Stack, Stack]:
    """Two host instances on one store, with 1 s stream leases: the second
    does not connect again (the store holds the grant)."""
    store = MemoryStore()
    lease = {"stream_lease_seconds": 1.0}
    first = await live_host(emulator, org, store=store, live=lease)
    second = await live_host(emulator, org, store=store, live=lease, connect=False)
    return first, second
