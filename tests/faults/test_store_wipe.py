"""A store wiped under running hosts: a Redis of this test's own, without
persistence, restarted mid-run (never the shared server).

The running instance notices (its epoch marker is gone), says so at ERROR, on
the settings page, in status.json and in ``doctor``; it puts back the webhook
token Salesforce calls, and an instance started on the wiped store serves that
token too instead of the one it made. ``doctor`` also refuses a Redis that keeps
nothing across a restart.
"""

from __future__ import annotations

import contextlib
import logging
import shutil
import socket
import subprocess
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from pathlib import Path

import aiohttp
import pytest
import redis.asyncio as aioredis
from faults_support import FAST_RETRIES, HostApi, talk
from redis.exceptions import RedisError
from test_two_instances_redis import SECRET, Pair, ring, running_pair, settled

from opencx_salesforce.apex import contract
from opencx_salesforce.devhost.stack import start_host, start_stack
from opencx_salesforce.doctor import diagnose
from opencx_salesforce.doctor.report import Status
from opencx_salesforce.emulator.package import Doorbell
from opencx_salesforce.emulator.seed import DEMO_CLIENT_ID, DEMO_CLIENT_SECRET
from opencx_salesforce.runtime import STATE_NS, WEBHOOK_TOKEN_KEY, Runtime
from opencx_salesforce.store.base import Store
from opencx_salesforce.store.redis import RedisStore

pytestmark = pytest.mark.skipif(shutil.which("redis-server") is None, reason="needs redis-server")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class OwnRedis:
    """A redis-server of this test only, with no persistence at all."""

    def __init__(self, workdir: Path, extra: list[str] | None = None) -> None:
        self.workdir = workdir  # where it would write anything (it writes nothing)
        self.extra = extra or []
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.process = subprocess.Popen(
            [
                *("redis-server", "--port", str(self.port), "--bind", "127.0.0.1"),
                *("--save", "", "--appendonly", "no", "--daemonize", "no"),
                *("--dir", str(self.workdir), *self.extra),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 10
        while True:
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", self.port)):
                return
            if time.monotonic() > deadline:
                raise AssertionError("redis-server did not come up")
            time.sleep(0.02)

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
            self.process = None

    def restart(self) -> None:
        """What an operator's restart does to a Redis without persistence."""
        self.stop()
        self.start()


@pytest.fixture
def own_redis(tmp_path: Path) -> Iterator[OwnRedis]:
    server = OwnRedis(tmp_path)
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
async def wiped_pair(
    own_redis: OwnRedis, http: aiohttp.ClientSession
) -> AsyncIterator[tuple[Pair, list[Store]]]:
    prefix = f"opencx-wipe-{uuid.uuid4().hex[:8]}:"
    stores: list[Store] = [await RedisStore.open(own_redis.url, prefix=prefix) for _ in range(2)]
    try:
        async with running_pair(http, stores, "Redis (own, no persistence)") as pair:
            yield pair, stores
    finally:
        for store in stores:
            await store.close()


def runtime_of(plugin: object) -> Runtime:
    runtime = plugin.runtime  # type: ignore[attr-defined]
    assert isinstance(runtime, Runtime)
    return runtime


async def signed_doorbell(http: aiohttp.ClientSession, url: str, org_id: str) -> int:
    stamp = datetime.now(UTC).strftime(contract.OCCURRED_AT_STRFTIME)
    body = Doorbell(contract.EVENT_CASE_UPDATED, "500000000000001", "500000000000001", stamp)
    return await ring(http, url, body.body(org_id))


async def test_a_store_wiped_mid_run_is_noticed_reported_and_its_webhook_token_kept(
    wiped_pair: tuple[Pair, list[Store]],
    own_redis: OwnRedis,
    http: aiohttp.ClientSession,
    caplog: pytest.LogCaptureFixture,
) -> None:
    (pair, stores) = wiped_pair
    a, b = pair.a, pair.b
    ra, rb = runtime_of(a.plugin), runtime_of(b.plugin)
    conversation = await talk(a.api, "before-wipe")
    await a.api.handoff(conversation.session_id)
    await settled(pair)
    token = ra.webhook_token
    assert rb.webhook_token == token
    assert (await a.api.status())["store_wiped"] is None

    own_redis.restart()  # everything is gone; both hosts keep running
    # A third instance starts on the empty store and makes a token of its own.
    prefix = stores[0].prefix  # type: ignore[attr-defined]
    stores.append(await RedisStore.open(own_redis.url, prefix=prefix))
    host_c, plugin_c, url_c = await start_host(
        store=stores[2],
        emulator_url=pair.emulator.base_url,
        # The same configuration as the others, its signing secret included.
        plugin_settings={**FAST_RETRIES, "webhook_signing_secret": SECRET},
    )
    try:
        rc = runtime_of(plugin_c)
        assert rc.webhook_token != token

        caplog.set_level(logging.ERROR, logger="opencx_salesforce.store.epoch")
        for runtime in (ra, rb, rc):  # each instance's periodic look, now
            assert runtime.store_watch is not None
            with contextlib.suppress(RedisError):  # the first command after the restart
                await runtime.store_watch.check()
        for runtime in (ra, rb, rc):
            assert runtime.store_watch is not None
            assert await runtime.store_watch.check() is not None
        assert any("THE STORE WAS WIPED" in r.getMessage() for r in caplog.records)

        # The token Salesforce was given is the one every instance serves again.
        assert [r.webhook_token for r in (ra, rb, rc)] == [token] * 3
        assert await stores[2].get(STATE_NS, WEBHOOK_TOKEN_KEY) == token.encode()
        hook = "/integrations/salesforce/webhook/"
        assert await signed_doorbell(http, f"{url_c}{hook}{token}", pair.org.id) == 202

        # Said where the admin looks: the page, status.json, doctor.
        api_c = HostApi(http, url_c, host_c.settings.admin_token_value())
        for api in (a.api, api_c):
            assert "lost all its data" in (await api.status())["store_wiped"]
            assert "The store was wiped" in await api.settings_page()
        report = await diagnose(ra)
        [store_check] = [r for r in report.results if r.id == "store"]
        assert store_check.status is Status.FAIL
        assert "lost all its data" in store_check.detail
        assert store_check.symptom == "The store lost its data"  # its troubleshooting heading

        # Connected again: the wipe is behind; doctor then refuses the Redis itself.
        await ra.tokens.save_credentials(pair.emulator.base_url, DEMO_CLIENT_ID, DEMO_CLIENT_SECRET)
        await ra.tokens.connect_client_credentials()
        assert (await a.api.status())["store_wiped"] is None
        report = await diagnose(ra)
        [store_check] = [r for r in report.results if r.id == "store"]
        assert store_check.status is Status.FAIL
        assert "no persistence" in store_check.detail
        assert store_check.symptom == "The store lost its data"  # was the check's default

        # Disconnected later: the wipe stays behind, on every instance (the
        # alarm had come back with the old time whenever not connected).
        await ra.tokens.disconnect()
        assert rc.store_watch is not None
        await rc.store_watch.check()  # the other instance's periodic look
        for api in (a.api, api_c):
            assert (await api.status())["store_wiped"] is None
            assert "The store was wiped" not in await api.settings_page()
    finally:
        await host_c.stop()


async def test_redis_persistence_is_read_from_the_server(own_redis: OwnRedis) -> None:
    # (appendonly turned on at run time writes into the server's --dir: tmp_path)
    client = aioredis.Redis.from_url(own_redis.url)
    store = await RedisStore.open(own_redis.url, prefix="p:")
    try:
        kept = await store.persistence()
        assert (kept.appendonly, kept.save, kept.keeps_data) == (False, "", False)
        await client.config_set("appendonly", "yes")
        assert (await store.persistence()).keeps_data is True
        await client.config_set("appendonly", "no")  # a quick shutdown
    finally:
        await store.close()
        await client.aclose()


async def test_a_host_starting_on_redis_without_persistence_warns(
    own_redis: OwnRedis, caplog: pytest.LogCaptureFixture
) -> None:
    """Not only doctor: the start-up log says it, where an operator who never
    runs doctor reads it; once persistence is on, nothing is said."""
    client = aioredis.Redis.from_url(own_redis.url)
    store = await RedisStore.open(own_redis.url, prefix="p:")
    caplog.set_level(logging.WARNING, logger="opencx_salesforce.store.forgetful")
    try:
        stack = await start_stack(store=store, plugin_settings=FAST_RETRIES)
        await stack.close()
        [warning] = [r for r in caplog.records if r.name == "opencx_salesforce.store.forgetful"]
        assert warning.levelno == logging.WARNING
        assert "The Redis store has no persistence" in warning.getMessage()
        assert "CONFIG SET appendonly yes" in warning.getMessage()

        caplog.clear()
        await client.config_set("appendonly", "yes")
        stack = await start_stack(store=store, plugin_settings=FAST_RETRIES)
        await stack.close()
        assert not [r for r in caplog.records if r.name == "opencx_salesforce.store.forgetful"]
        await client.config_set("appendonly", "no")  # a quick shutdown
    finally:
        await store.close()
        await client.aclose()


async def test_doctor_says_when_it_cannot_check_redis_persistence(tmp_path: Path) -> None:
    server = OwnRedis(tmp_path, ["--rename-command", "CONFIG", ""])  # as managed services do
    server.start()
    store = await RedisStore.open(server.url, prefix="p:")
    try:
        assert (await store.persistence()).keeps_data is None
        stack = await start_stack(store=store, plugin_settings=FAST_RETRIES)
        try:
            [store_check] = [r for r in (await diagnose(stack.runtime)).results if r.id == "store"]
        finally:
            await stack.close()
        assert store_check.status is Status.WARN
        assert "cannot check that Redis keeps its data" in store_check.detail
    finally:
        await store.close()
        server.stop()
