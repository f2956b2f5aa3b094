from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from opencx_salesforce.devhost.stack import Stack, start_stack
from opencx_salesforce.store.memory import MemoryStore


@pytest.fixture
async def stack() -> AsyncIterator[Stack]:
    stack = await start_stack(
        store=MemoryStore(),
        plugin_settings={"backoff_base_seconds": 0.05, "backoff_cap_seconds": 0.5},
    )
    try:
        yield stack
    finally:
        await stack.close()
