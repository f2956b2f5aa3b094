"""The plugin's liveness and readiness probes, as Kubernetes calls them: open,
states only, reasons for administrators."""

from __future__ import annotations

import asyncio
import json
import os
import uuid
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import asyncpg
import pytest
from aiohttp.test_utils import TestClient, TestServer
from operations_support import PREFIX
from yarl import URL

from opencx_salesforce import health
from opencx_salesforce.devhost.stack import Stack, start_stack
from opencx_salesforce.devhost.waiting import wait_for
from opencx_salesforce.log_throttle import LogThrottle
from opencx_salesforce.models import HandoffReason
from opencx_salesforce.salesforce.errors import NeedsReauthorization
from opencx_salesforce.store.memory import MemoryStore
from opencx_salesforce.store.postgres import PostgresStore
from opencx_salesforce.web.app import build_routes


class DiskFullStore(MemoryStore):
    """A memory store whose writes can be made to fail, as a full disk would."""

    full = False

    async def set(self, ns: str, key: str, value: bytes, *, ttl: float | None = None) -> None:
        if self.full:
            raise OSError("No space left on device: /var/lib/secret-path/opencx.db")
        await super().set(ns, key, value, ttl=ttl)


async def probe(stack: Stack, which: str, *, admin: bool = False) -> tuple[int, dict[str, Any]]:
    headers = {}
    if admin:
        headers["Authorization"] = f"Bearer {stack.host.settings.admin_token.get_secret_value()}"
    async with (
        aiohttp.ClientSession() as http,
        http.get(f"{stack.host_url}{PREFIX}/healthz/{which}", headers=headers) as response,
    ):
        return response.status, await response.json()


@pytest.fixture
async def stacks() -> Any:
    started: list[Stack] = []

    async def start(**kwargs: Any) -> Stack:
        stack = await start_stack(**kwargs)
        started.append(stack)
        return stack

    yield start
    for stack in started:
        await stack.close()


async def test_a_connected_plugin_is_live_and_ready(stacks: Any) -> None:
    stack = await stacks(store=MemoryStore())
    assert await probe(stack, "live") == (
        200,
        {"status": "ok", "checks": {"outbox_workers": "256/256"}},  # outbox_concurrency
    )
    status, body = await probe(stack, "ready")
    assert status == 200
    assert body == {
        "status": "ok",
        "checks": {"store": "ok", "outbox": "ok", "salesforce": "connected"},
    }


async def test_a_fresh_install_is_ready_and_says_not_connected_yet(stacks: Any) -> None:
    # Ready all the same: the settings page where the admin connects is served here.
    stack = await stacks(store=MemoryStore(), connect=False)
    status, body = await probe(stack, "ready")
    assert status == 200
    assert body["checks"]["salesforce"] == "not_connected_yet"


async def test_readiness_fails_when_the_store_cannot_write(stacks: Any) -> None:
    store = DiskFullStore()
    stack = await stacks(store=store)
    store.full = True
    status, body = await probe(stack, "ready")
    assert status == 503
    assert body["status"] == "fail" and body["checks"]["store"] == "not writable"
    # Nothing of the exception reaches an anonymous caller; an admin gets it.
    assert "detail" not in body and "space" not in str(body)
    status, body = await probe(stack, "ready", admin=True)
    assert status == 503
    assert "No space left on device" in body["detail"]["store"]
    store.full = False
    assert (await probe(stack, "ready"))[0] == 200


class SilentStore(DiskFullStore):
    """Writes that never answer, as a client retrying a PostgreSQL that is down."""

    async def set(self, ns: str, key: str, value: bytes, *, ttl: float | None = None) -> None:
        if self.full:
            await asyncio.Event().wait()
        await super().set(ns, key, value, ttl=ttl)


async def test_readiness_answers_in_time_when_the_store_does_not(
    stacks: Any, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    # With PostgreSQL down the probe gave no answer at all in 40 s, and each
    # probe that did fail logged an ERROR line.
    monkeypatch.setattr(health, "STORE_ANSWER_SECONDS", 0.3)
    monkeypatch.setattr(health, "_store_errors", LogThrottle())
    store = SilentStore()
    stack = await stacks(store=store)
    store.full = True
    for _ in range(3):
        status, body = await asyncio.wait_for(probe(stack, "ready", admin=True), 5)
        assert status == 503 and body["checks"]["store"] == "not writable"
        assert "no answer within 0.3 s" in body["detail"]["store"]
    errors = [r for r in caplog.records if r.getMessage().startswith("readiness: the store")]
    assert len(errors) == 1
    store.full = False


async def test_readiness_fails_when_outbox_jobs_wait_longer_than_the_threshold(
    stacks: Any,
) -> None:
    stack = await stacks(store=MemoryStore(), plugin_settings={"health_outbox_stuck_seconds": 0.05})
    await stack.runtime.outbox.stop()  # workers gone: nothing takes the job
    session = await stack.host.create_session(topic="Nobody takes this")
    await stack.host.handoff(session.id, HandoffReason(code="requested"))
    await asyncio.sleep(0.1)  # past the (tiny) threshold, on the store's real clock
    status, body = await probe(stack, "ready", admin=True)
    assert status == 503 and body["checks"]["outbox"] == "stuck"
    assert "1 job(s) ready for over 0 s" in body["detail"]["outbox"]
    # And liveness says why: the workers are not running.
    status, body = await probe(stack, "live")
    assert status == 503 and body["checks"] == {"outbox_workers": "0/256"}


async def test_a_broken_grant_is_reported_not_failed(stacks: Any) -> None:
    # The Run As user is deactivated and the access token expires: the refresh is
    # refused, the plugin needs an admin. Ready still (the settings page is here).
    stack = await stacks(store=MemoryStore())
    stack.emulator.state.auth.set_user_active(stack.org.id, "admin@acme.example", False)
    stack.emulator.state.auth.expire_access_tokens(stack.org.id)
    with pytest.raises(NeedsReauthorization):
        await stack.runtime.client.limits()
    status, body = await probe(stack, "ready")
    assert status == 200 and body["checks"]["salesforce"] == "needs_reauthorization"
    assert "detail" not in body


async def test_probes_answer_503_before_the_plugin_starts() -> None:
    app = build_routes(lambda: None)
    server = TestServer(app)
    async with TestClient(server) as client:
        for which in ("live", "ready"):
            response = await client.get(f"/healthz/{which}")
            assert response.status == 503
            assert await response.json() == {"status": "fail", "checks": {"plugin": "not started"}}


async def admin_get(stack: Stack, path: str) -> tuple[int, str]:
    token = stack.host.settings.admin_token.get_secret_value()
    headers = {"Authorization": f"Bearer {token}", "Accept": "text/html"}
    async with (
        aiohttp.ClientSession() as http,
        http.get(f"{stack.host_url}{PREFIX}/admin{path}", headers=headers) as response,
    ):
        return response.status, await response.text()


async def test_the_settings_page_says_when_the_store_refuses_writes(stacks: Any) -> None:
    # The page read the store fine and said Connected while every handoff
    # failed 503: only readiness told. The instance asks for a write every
    # 30 s in the background (a page view writes nothing); `check` is that tick.
    store = DiskFullStore()
    stack = await stacks(store=store)
    watch = stack.runtime.write_watch
    assert watch is not None and watch.interval == 30.0
    status, page = await admin_get(stack, "")
    assert status == 200 and "The store does not take writes" not in page
    store.full = True
    await watch.check()
    status, page = await admin_get(stack, "")
    assert status == 200
    assert "The store does not take writes" in page
    assert "No space left on device" in page
    status, text = await admin_get(stack, "/status.json")
    assert json.loads(text)["store_refuses_writes"].startswith("OSError: No space left")
    assert "opencx_salesforce_store_writable 0.0" in await metrics_text(stack)
    store.full = False
    await probe(stack, "ready")  # readiness asks too, and the watch hears it
    status, page = await admin_get(stack, "")
    assert "The store does not take writes" not in page
    assert json.loads((await admin_get(stack, "/status.json"))[1])["store_refuses_writes"] is None
    assert "opencx_salesforce_store_writable 1.0" in await metrics_text(stack)


async def metrics_text(stack: Stack) -> str:
    token = stack.host.settings.admin_token.get_secret_value()
    async with (
        aiohttp.ClientSession() as http,
        http.get(
            f"{stack.host_url}{PREFIX}/metrics", headers={"Authorization": f"Bearer {token}"}
        ) as response,
    ):
        assert response.status == 200
        return await response.text()


POSTGRES_URL = os.environ.get(
    "OPENCX_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test"
)


@pytest.fixture
async def read_only_role() -> AsyncIterator[tuple[str, str]]:
    """A PostgreSQL role and schema of this test's own; ``ALTER ROLE … SET
    default_transaction_read_only`` then makes its new sessions read-only, as
    a store URL pointing at a standby after a failover would be."""
    role = schema = f"opencx_test_ro_{uuid.uuid4().hex[:8]}"
    admin = await asyncpg.connect(POSTGRES_URL)
    try:
        await admin.execute(f'CREATE ROLE "{role}" LOGIN')
        await admin.execute(f'CREATE SCHEMA "{schema}" AUTHORIZATION "{role}"')
        yield role, schema
    finally:
        await admin.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        await admin.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = $1", role
        )
        await admin.execute(f'DROP ROLE IF EXISTS "{role}"')
        await admin.close()


async def test_a_read_only_postgresql_is_named_on_the_page_and_by_readiness(
    stacks: Any, read_only_role: tuple[str, str]
) -> None:
    role, schema = read_only_role
    url = URL(POSTGRES_URL).with_user(role).with_query(schema=schema, pool_max=2)
    store = await PostgresStore.open(str(url))
    try:
        stack = await stacks(store=store)
        assert (await admin_get(stack, ""))[0] == 200  # an admin has been here before
        admin = await asyncpg.connect(POSTGRES_URL)
        try:
            await admin.execute(f'ALTER ROLE "{role}" SET default_transaction_read_only = on')
            await admin.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = $1", role
            )
        finally:
            await admin.close()

        async def refused() -> str | None:
            assert stack.runtime.write_watch is not None
            return await stack.runtime.write_watch.check()

        reason = await wait_for(refused, timeout=20, what="the store to refuse writes")
        assert "read-only transaction" in reason, reason
        status, page = await admin_get(stack, "")
        assert status == 200 and "The store does not take writes" in page
        assert "read-only transaction" in page
        status, body = await probe(stack, "ready", admin=True)
        assert status == 503 and body["checks"]["store"] == "not writable"
    finally:
        await store.close()
