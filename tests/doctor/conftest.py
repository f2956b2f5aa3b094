"""Fixtures of the doctor tests: whole local stacks (emulator, org, host with the
plugin, connected), with or without the generated package deployed."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from doctor_support import PLUGIN_SETTINGS, SECRET, StackFactory

from opencx_salesforce.apex import names
from opencx_salesforce.devhost.stack import Stack, start_stack
from opencx_salesforce.emulator.package import deploy_package, find_runtime
from opencx_salesforce.emulator.seed import OrgSeed
from opencx_salesforce.store import open_store
from opencx_salesforce.store.base import Store
from opencx_salesforce.store.memory import MemoryStore


@pytest.fixture
async def make_stack() -> AsyncIterator[StackFactory]:
    """``await make_stack(seed=..., store=..., connect=..., deploy=..., **plugin_settings)``:
    a running stack, connected with client credentials unless ``connect=False``,
    the package deployed for the host's webhook URL unless ``deploy=False``.
    ``store_url``: open that store (a command run beside the host shares it)."""
    stacks: list[Stack] = []
    opened: list[Store] = []

    async def make(
        *,
        seed: OrgSeed | None = None,
        store: Store | None = None,
        store_url: str | None = None,
        connect: bool = True,
        deploy: bool = True,
        digest: bool = True,
        **settings: Any,
    ) -> Stack:
        if store_url is not None:
            store = await open_store(store_url)
            opened.append(store)
        stack = await start_stack(
            store=store or MemoryStore(),
            seed=seed,
            plugin_settings={**PLUGIN_SETTINGS, **settings},
            connect=connect,
        )
        stacks.append(stack)
        if deploy:
            apex = deploy_package(stack.org, stack.runtime.webhook_url, SECRET)
            if digest:  # started as the README says, and a minute later its first run
                await apex.execute_anonymous(f"{names.DIGEST_CLASS}.start();")
                stack.org.state.clock.advance(60.0)
                await apex.digest.run_due()
        return stack

    try:
        yield make
    finally:
        for stack in stacks:
            runtime = find_runtime(stack.org)
            if runtime is not None:
                await runtime.close()
            await stack.close()
        for store in opened:
            await store.close()
