"""Fixtures of the reply tests: a started emulator with the default org, and a
world with one reference host connected to it (memory store)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import aiohttp
import pytest
from replies_support import PLUGIN_SETTINGS, SECRET, World, WorldFactory

from opencx_salesforce.emulator.app import Emulator
from opencx_salesforce.emulator.package import deploy_package
from opencx_salesforce.emulator.package.runtime import ApexRuntime
from opencx_salesforce.emulator.seed import default_org
from opencx_salesforce.store.base import Store
from opencx_salesforce.store.memory import MemoryStore


@pytest.fixture
async def make_world() -> AsyncIterator[WorldFactory]:
    """``await make_world(store=..., **plugin_settings)``: a world with no host yet."""
    emulator = Emulator()
    await emulator.start()
    org = emulator.state.add_org(default_org())
    http = aiohttp.ClientSession()
    worlds: list[World] = []

    async def make(store: Store | None = None, **settings: object) -> World:
        world = World(emulator, org, store or MemoryStore(), http, {**PLUGIN_SETTINGS, **settings})
        worlds.append(world)
        return world

    try:
        yield make
    finally:
        for world in worlds:
            for node in list(world.nodes):
                await world.stop_node(node)
        await http.close()
        await emulator.close()


@pytest.fixture
async def world(make_world: WorldFactory) -> World:
    """One host on a memory store, connected to the org."""
    made = await make_world()
    await made.start_node()
    return made


@pytest.fixture
async def apex(world: World) -> AsyncIterator[ApexRuntime]:
    """The package deployed for the host's webhook URL: the org rings the host."""
    runtime = deploy_package(world.org, world.node.runtime.webhook_url, SECRET)
    try:
        yield runtime
    finally:
        await runtime.close()
