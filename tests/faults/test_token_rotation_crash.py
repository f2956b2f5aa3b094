"""A rotated refresh token between Salesforce's answer and the store.

With refresh token rotation on, Salesforce invalidates the previous refresh token
as it answers [src: help remoteaccess_oauth_refresh_token_flow.htm, "The previous
refresh token is automatically invalidated"]. The plugin keeps the new one in
memory and retries the store write until it lands, so a store that is down for a
while loses nothing. A process killed in that window loses the new token with it:
with rotation off (Salesforce's default) nothing is lost; with rotation on, an
admin must connect again, the work waits for them, and resumes at once when they
do. Each case below runs a real host against the emulator over HTTP.
"""

from __future__ import annotations

import asyncio
import dataclasses
import time
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from faults_support import HostApi, case_problems, connect_with_browser, talk

from opencx_salesforce.devhost.stack import Stack, start_host, start_stack
from opencx_salesforce.devhost.waiting import wait_for
from opencx_salesforce.emulator.seed import DEMO_CLIENT_ID, DEMO_CLIENT_SECRET, default_org
from opencx_salesforce.salesforce.errors import NeedsReauthorization
from opencx_salesforce.salesforce.secrets import NAMESPACE
from opencx_salesforce.salesforce.tokens import CONNECTION_KEY, ConnectionState
from opencx_salesforce.store.base import ItemState, Store
from opencx_salesforce.store.memory import MemoryStore

FAST = {"backoff_base_seconds": 0.05, "backoff_cap_seconds": 0.5, "sweep_interval_seconds": 3600}


class FaultyStore:
    """The host's store, with the write of the Salesforce connection record
    either hanging forever (the process died right there) or failing while
    ``down`` (the store unreachable for a while)."""

    def __init__(self, inner: Store) -> None:
        self.inner = inner
        self.crash = False
        self.down = False
        self.frozen: list[asyncio.Future[None]] = []
        self.refused = 0

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    async def compare_and_set(self, ns: str, key: str, *args: Any, **kwargs: Any) -> bool:
        if (ns, key) == (NAMESPACE, CONNECTION_KEY):
            if self.crash:
                never = asyncio.get_running_loop().create_future()
                self.frozen.append(never)
                await never  # nothing after this point ever happens
            if self.down:
                self.refused += 1
                raise ConnectionError("the store is unreachable")
        return await self.inner.compare_and_set(ns, key, *args, **kwargs)

    def release(self) -> None:
        for never in self.frozen:
            never.cancel()


def seed(rotating: bool) -> Any:
    base = default_org()
    apps = tuple(dataclasses.replace(a, rotate_refresh_tokens=rotating) for a in base.apps)
    return dataclasses.replace(base, apps=apps)


async def connect_admin(stack: Stack) -> None:
    stack.emulator.state.auth.set_callback_urls(DEMO_CLIENT_ID, [stack.runtime.redirect_uri])
    status = await connect_with_browser(
        stack.host_url,
        admin_token=stack.host.settings.admin_token_value(),
        login_url=stack.emulator.base_url,
        client_id=DEMO_CLIENT_ID,
        client_secret=DEMO_CLIENT_SECRET,
    )
    assert status["state"] == "connected", status


@pytest.fixture
async def stores() -> AsyncIterator[tuple[FaultyStore, MemoryStore]]:
    inner = MemoryStore()
    faulty = FaultyStore(inner)
    yield faulty, inner
    faulty.release()


async def rotating_stack(faulty: FaultyStore, rotating: bool) -> Stack:
    stack = await start_stack(
        store=faulty,  # type: ignore[arg-type]
        seed=seed(rotating),
        plugin_settings=FAST,
        connect=False,
    )
    await connect_admin(stack)
    return stack


async def restart(old: Stack, store: Store, monkeypatch: pytest.MonkeyPatch) -> Stack:
    """The host again, on the same store, a minute later: the old process is
    gone, and the refresh lock it held has run out (LOCK_TTL, 45 s)."""
    await old.host.stop()
    real = time.time
    monkeypatch.setattr(time, "time", lambda: real() + 60)
    host, plugin, url = await start_host(
        store=store, emulator_url=old.emulator.base_url, plugin_settings=FAST
    )
    return Stack(old.emulator, old.org, host, plugin, url)


async def crash_mid_rotation(stack: Stack, faulty: FaultyStore) -> None:
    """The access token expires; the refresh gets Salesforce's answer, and the
    process dies before the connection record is written."""
    faulty.crash = True
    stack.emulator.state.auth.expire_access_tokens(stack.org.id)
    call = asyncio.create_task(stack.runtime.client.limits())

    async def frozen() -> bool:
        return bool(faulty.frozen)

    await wait_for(frozen, timeout=10, what="the token answer to arrive and its write to start")
    call.cancel()
    await asyncio.gather(call, return_exceptions=True)


async def test_a_crash_after_a_refresh_without_rotation_loses_nothing(
    stores: tuple[FaultyStore, MemoryStore],
    http: aiohttp.ClientSession,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    faulty, inner = stores
    stack = await rotating_stack(faulty, rotating=False)
    try:
        await crash_mid_rotation(stack, faulty)
        stack = await restart(stack, inner, monkeypatch)
        # The stored refresh token is still good: the new process refreshes with it.
        assert "DailyApiRequests" in await stack.runtime.client.limits()
        assert (await stack.runtime.tokens.status()).state is ConnectionState.CONNECTED
    finally:
        await stack.close()


async def test_a_crash_between_rotation_and_its_write_needs_a_reconnect_and_keeps_the_work(
    stores: tuple[FaultyStore, MemoryStore],
    http: aiohttp.ClientSession,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    faulty, inner = stores
    stack = await rotating_stack(faulty, rotating=True)
    try:
        await crash_mid_rotation(stack, faulty)
        stack = await restart(stack, inner, monkeypatch)
        # What the platform does not allow: the stored token was rotated away.
        with pytest.raises(NeedsReauthorization) as caught:
            await stack.runtime.client.limits()
        assert "invalid_grant" in caught.value.reason
        api = HostApi(http, stack.host_url, stack.host.settings.admin_token_value())
        assert (await api.status())["state"] == "needs_reauthorization"
        # Work arriving meanwhile waits for the admin; nothing is lost.
        conversation = await talk(api, "after-crash")
        await api.handoff(conversation.session_id)

        async def waiting() -> bool:
            items = await stack.runtime.outbox.items()
            return bool(items) and all(i.last_error for i in items)

        await wait_for(waiting, what="the handoff to wait for the admin")
        assert await stack.runtime.outbox.items(ItemState.DEAD) == []
        await connect_admin(stack)

        async def drained() -> bool:
            return not await stack.runtime.outbox.items()

        await wait_for(drained, timeout=5, what="the handoff to go through after reconnecting")
        assert case_problems(stack.org, [conversation]) == []
    finally:
        await stack.close()


async def test_a_rotated_refresh_token_is_kept_until_the_store_takes_it(
    stores: tuple[FaultyStore, MemoryStore],
    http: aiohttp.ClientSession,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    faulty, inner = stores
    stack = await rotating_stack(faulty, rotating=True)
    try:
        faulty.down = True  # the store refuses the connection record's writes
        for _ in range(2):  # two rotations while the store is away
            stack.emulator.state.auth.expire_access_tokens(stack.org.id)
            assert "DailyApiRequests" in await stack.runtime.client.limits()
        assert faulty.refused >= 2
        faulty.down = False
        tokens = stack.runtime.tokens

        async def stored() -> bool:
            return tokens.rotation.pending is None

        await wait_for(stored, timeout=10, what="the rotated token to be stored")
        stack = await restart(stack, inner, monkeypatch)
        # A new process finds the latest refresh token and can use it.
        stack.emulator.state.auth.expire_access_tokens(stack.org.id)
        assert "DailyApiRequests" in await stack.runtime.client.limits()
        assert (await stack.runtime.tokens.status()).state is ConnectionState.CONNECTED
    finally:
        await stack.close()
