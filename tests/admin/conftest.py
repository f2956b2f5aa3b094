"""Fixtures of the settings-page tests: the local Salesforce emulator and the
reference host running the real Salesforce plugin, both on loopback ports, and a
browser-like client signed in to the host."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
from admin_support import ADMIN_TOKEN, Stack, StartStack

from opencx_salesforce.devhost import DevHost, HostSettings
from opencx_salesforce.emulator.app import Emulator
from opencx_salesforce.emulator.seed import OrgSeed, default_org
from opencx_salesforce.plugin import SalesforcePlugin
from opencx_salesforce.store.memory import MemoryStore


@pytest.fixture
def emulator(salesforce_emulator: Emulator) -> Emulator:
    """The installed ``salesforce_emulator`` fixture (opencx_salesforce's pytest
    plugin), under the name these tests use."""
    return salesforce_emulator


@pytest.fixture
async def start_stack(emulator: Emulator) -> AsyncIterator[StartStack]:
    """``await start_stack(plugin=..., seed=...)``: the host with the plugin, and an
    org on the emulator whose Connected App's Callback URL is the plugin's
    Redirect URI (``seed(redirect_uri) -> OrgSeed`` for another org, ``None`` for
    no org)."""
    stacks: list[Stack] = []

    async def start(
        plugin: dict[str, Any] | None = None,
        seed: Callable[[str], OrgSeed | None] | None = None,
    ) -> Stack:
        instance = SalesforcePlugin()
        host = DevHost(
            HostSettings(admin_token=ADMIN_TOKEN, store_url="memory://"),
            store=MemoryStore(),
            plugins={"salesforce": instance},
            plugin_sections={"salesforce": {"dev_mode": True, **(plugin or {})}},
        )
        base_url = await host.start(host="127.0.0.1", port=0)
        assert instance.is_running, host.hook_errors
        redirect_uri = instance.runtime.redirect_uri
        org_seed = seed(redirect_uri) if seed else default_org(callback_urls=(redirect_uri,))
        org = emulator.state.add_org(org_seed) if org_seed else None
        stack = Stack(emulator, host, instance, base_url, org)
        stacks.append(stack)
        return stack

    yield start
    for stack in reversed(stacks):
        for browser in stack.browsers:
            await browser.close()
        await stack.host.stop()


@pytest.fixture
async def stack(start_stack: StartStack) -> Stack:
    return await start_stack()
