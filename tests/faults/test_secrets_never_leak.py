"""No client secret, access token, refresh token, webhook token or signing
secret, CSRF key or encryption key in any log line (DEBUG) or any page the fault
suite saw, on every store backend (issue 16 item 8: a store's driver may log
its statements with their parameters, as aiosqlite did).

Every test of the suite is scanned as it ends (``conftest.leak_watch``): its
logs, the pages and answers it received, the host processes' output. This test
adds the paths where secrets are handled most, with refresh-token rotation so
that several generations of each token exist, on a memory, SQLite, Redis and
PostgreSQL store, checks that the scan does catch a planted secret, and prints
what the whole run covered.
"""

from __future__ import annotations

import base64
import dataclasses
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest
import redis.asyncio as aioredis
from faults_postgres_support import POSTGRES_URL, drop_schema, fresh_schema
from faults_support import (
    FAST_RETRIES,
    PREFIX,
    WATCH,
    HostApi,
    connect_with_browser,
    talk,
)

from opencx_salesforce.devhost.stack import Stack, start_stack
from opencx_salesforce.devhost.waiting import wait_for
from opencx_salesforce.emulator.seed import DEMO_CLIENT_ID, DEMO_CLIENT_SECRET, default_org
from opencx_salesforce.runtime import SIGNING_SECRET_KEY, STATE_NS
from opencx_salesforce.salesforce.secrets import DEV_KEY, NAMESPACE
from opencx_salesforce.store import Store, open_store
from opencx_salesforce.store.memory import MemoryStore
from opencx_salesforce.store.redis import RedisStore
from opencx_salesforce.web.admin import csrf

WRONG_SECRET = "a-wrong-client-secret-pasted-by-mistake"
REDIS_URL = "redis://127.0.0.1:6379/0"


@pytest.fixture(params=["memory", "sqlite", "redis", "postgres"])
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Store]:
    """A fresh store of each backend: a file, a Redis key prefix, a PostgreSQL
    schema of this test's own (others on the shared servers are never touched)."""
    backend = request.param
    if backend == "memory":
        yield MemoryStore()
    elif backend == "sqlite":
        opened = await open_store(f"sqlite:///{tmp_path / 'store.db'}")
        yield opened
        await opened.close()
    elif backend == "redis":
        prefix = f"opencx-leak-test:{uuid.uuid4().hex}:"
        opened = await RedisStore.open(REDIS_URL, prefix=prefix)
        yield opened
        await opened.close()
        client = aioredis.Redis.from_url(REDIS_URL)
        try:
            leftovers = [key async for key in client.scan_iter(match=f"{prefix}*")]
            if leftovers:
                await client.delete(*leftovers)
        finally:
            await client.aclose()
    else:
        schema = fresh_schema()
        opened = await open_store(f"{POSTGRES_URL}?schema={schema}")
        yield opened
        await opened.close()
        await drop_schema(schema)


def watch_bytes(value: bytes | None, what: str) -> None:
    """A binary secret, in every form a log line could carry it."""
    if value is None:
        return
    WATCH.secret(repr(value)[2:-1], what)
    WATCH.secret(value.hex(), what)
    WATCH.secret(base64.b64encode(value).decode(), what)
    if value.isascii():
        WATCH.secret(value.decode(), what)


async def watch_install_secrets(stack: Stack) -> None:
    """The install's own secrets, from its store: the CSRF key, the signing
    secret, the dev-mode encryption key."""
    store = stack.host.store
    watch_bytes(await store.get(csrf.KEY_NS, csrf.KEY_NAME), "CSRF key")
    watch_bytes(await store.get(STATE_NS, SIGNING_SECRET_KEY), "webhook signing secret")
    watch_bytes(await store.get(NAMESPACE, DEV_KEY), "encryption key (dev mode)")


async def test_no_secret_in_any_log_or_page(http: aiohttp.ClientSession, store: Store) -> None:
    org_seed = default_org()
    rotating = dataclasses.replace(org_seed.apps[0], rotate_refresh_tokens=True)
    stack = await start_stack(
        store=store,
        seed=dataclasses.replace(org_seed, apps=(rotating,)),
        plugin_settings=FAST_RETRIES,
        connect=False,
    )
    admin_token = stack.host.settings.admin_token_value()
    api = HostApi(http, stack.host_url, admin_token)
    script = {"Authorization": f"Bearer {admin_token}", "Accept": "application/json"}
    WATCH.secret(WRONG_SECRET, "client secret")
    try:
        await api.settings_page()  # makes the CSRF key
        await watch_install_secrets(stack)
        # A wrong secret first (refused and explained), then the real one.
        async with http.post(
            f"{stack.host_url}{PREFIX}/admin/credentials",
            json={
                "client_id": DEMO_CLIENT_ID,
                "client_secret": WRONG_SECRET,
                "login_url": stack.emulator.base_url,
            },
            headers=script,
        ) as response:
            WATCH.seen("Save Credentials refusing a wrong secret", await response.text())
            assert response.status == 400
        connect = {
            "admin_token": admin_token,
            "login_url": stack.emulator.base_url,
            "client_id": DEMO_CLIENT_ID,
            "client_secret": DEMO_CLIENT_SECRET,
        }
        assert (await connect_with_browser(stack.host_url, **connect))["state"] == "connected"

        async def drained() -> bool:
            return not await stack.runtime.outbox.items()

        # Work, sessions expiring (refresh, rotation) three times over.
        for round_ in range(3):
            conversation = await talk(api, f"secrets{round_}")
            await api.handoff(conversation.session_id)
            await wait_for(drained, what="the handoff")
            stack.emulator.state.auth.expire_access_tokens(stack.org.id)
        assert stack.runtime.tokens.refreshes >= 2
        await api.settings_page()
        await api.status()
        # A signed webhook call, then its replay (refused): the signature path.
        await ring_and_replay(http, stack)

        # Revoked: the refresh fails, the page explains; then reconnect, disconnect.
        stack.emulator.state.auth.revoke_all(stack.org.id)
        conversation = await talk(api, "secrets-revoked")
        await api.handoff(conversation.session_id)

        async def needs_reconnect() -> bool:
            return bool((await api.status())["state"] == "needs_reauthorization")

        await wait_for(needs_reconnect, what="needs reauthorization")
        await api.settings_page()
        assert (await connect_with_browser(stack.host_url, **connect))["state"] == "connected"
        async with http.post(
            f"{stack.host_url}{PREFIX}/admin/disconnect", json={}, headers=script
        ) as response:
            WATCH.seen("Disconnect's answer", await response.text())
            assert response.status == 200
        await api.settings_page()
    finally:
        await stack.close()

    leaks = WATCH.scan()
    assert not leaks, "secrets leaked:\n" + "\n".join(leaks)

    # The scan is not blind: a planted token is found.
    some_token = next(v for v, (what, _) in WATCH.secrets.items() if what == "refresh token")
    WATCH.seen("a planted canary", f"... refresh_token={some_token} ...")
    assert len(WATCH.scan()) == 1

    kinds = WATCH.counts()
    print(
        f"\nsecrets watched: {sum(kinds.values())} "
        f"({', '.join(f'{what}: {n}' for what, n in sorted(kinds.items()))}); "
        f"texts scanned this run: {WATCH.texts_scanned} "
        f"({WATCH.chars_scanned / 1e6:.1f} MB of logs, pages and host output); leaks: 0"
    )
    assert kinds["access token"] >= 4 and kinds["refresh token"] >= 3
    for what in ("CSRF key", "webhook signing secret", "encryption key (dev mode)"):
        assert kinds[what] >= 1, what


async def ring_and_replay(http: aiohttp.ClientSession, stack: Stack) -> None:
    import time

    from opencx_salesforce.apex import contract

    secret = stack.runtime.signing_secret
    assert secret is not None
    body = (
        b'{"event":"ping","orgId":"00D5g0000000001AAA","caseId":null,"recordId":null,'
        b'"occurredAt":"2026-11-25T01:40:00Z"}'
    )
    stamp = str(int(time.time()))
    headers = {
        "Content-Type": "application/json",
        contract.HEADER_TIMESTAMP: stamp,
        contract.HEADER_SIGNATURE: contract.sign(secret, stamp, body),
    }
    statuses = []
    for _ in range(2):
        async with http.post(stack.runtime.webhook_url, data=body, headers=headers) as answer:
            WATCH.seen("the webhook's answer", await answer.text())
            statuses.append(answer.status)
    assert statuses == [202, 409]
