"""The plugin's liveness and readiness probes, as Kubernetes calls them: open,
states only, reasons for administrators."""

from __future__ import annotations

import asyncio
from typing import Any

import aiohttp
import pytest
from aiohttp.test_utils import TestClient, TestServer
from operations_support import PREFIX

from opencx_salesforce import health
from opencx_salesforce.devhost.stack import Stack, start_stack
from opencx_salesforce.log_throttle import LogThrottle
from opencx_salesforce.models import HandoffReason
from opencx_salesforce.salesforce.errors import NeedsReauthorization
from opencx_salesforce.store.memory import MemoryStore
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
