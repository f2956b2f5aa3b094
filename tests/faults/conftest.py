"""Fixtures of the fault suite.

Every test here runs under :func:`leak_watch`: logging at DEBUG, every access and
refresh token the emulator issues recorded as it is made, and after the test its
logs (and whatever pages and host output it handed to ``WATCH``) scanned for any
secret the suite knows. A leak fails the test that caused it.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from faults_kill_support import ForkServer, HostProcesses, Install
from faults_support import ADMIN_TOKEN, FAST_RETRIES, WATCH, LeakWatch

from opencx_salesforce import runtime as services
from opencx_salesforce.devhost.stack import Stack, start_stack
from opencx_salesforce.emulator.app import Emulator
from opencx_salesforce.emulator.oauth import store as token_store
from opencx_salesforce.emulator.oauth import tokens
from opencx_salesforce.emulator.seed import DEMO_CLIENT_SECRET, default_org
from opencx_salesforce.store.memory import MemoryStore

_FORMAT = logging.Formatter("%(levelname)s %(name)s: %(message)s")


@pytest.fixture(autouse=True)
def leak_watch(
    caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> Iterator[LeakWatch]:
    caplog.set_level(logging.DEBUG)
    real_access, real_refresh = tokens.new_access_token, tokens.new_refresh_token

    def access_token(org_id: str) -> str:
        value = real_access(org_id)
        WATCH.secret(value, "access token")
        return value

    def refresh_token() -> str:
        value = real_refresh()
        WATCH.secret(value, "refresh token")
        return value

    # Where the authorization server's store looks them up (it imported them).
    monkeypatch.setattr(token_store, "new_access_token", access_token)
    monkeypatch.setattr(token_store, "new_refresh_token", refresh_token)
    real_webhook_token = services.ensure_webhook_token

    async def webhook_token(store: Any) -> str:
        value = await real_webhook_token(store)
        WATCH.secret(value, "webhook token", logs_only=True)  # shown to the admin by design
        return value

    monkeypatch.setattr(services, "ensure_webhook_token", webhook_token)
    WATCH.secret(DEMO_CLIENT_SECRET, "client secret")
    WATCH.secret(ADMIN_TOKEN, "host admin token", logs_only=True)
    yield WATCH
    for phase in ("setup", "call", "teardown"):
        text = "\n".join(_FORMAT.format(record) for record in caplog.get_records(phase))
        WATCH.seen(f"the {phase} log (DEBUG)", text, log=True)
    leaks = WATCH.scan()
    assert not leaks, "secrets leaked:\n" + "\n".join(leaks)


@pytest.fixture
async def fault_stack() -> AsyncIterator[Stack]:
    """Emulator, reference host and plugin in this process (memory store),
    connected by client credentials, retrying fast."""
    stack = await start_stack(store=MemoryStore(), plugin_settings=FAST_RETRIES)
    try:
        yield stack
    finally:
        await stack.close()


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    # A script's client: no cookies (the settings routes then need no CSRF token).
    async with aiohttp.ClientSession(cookie_jar=aiohttp.DummyCookieJar()) as session:
        yield session


@pytest.fixture(scope="session")
def fork_server() -> Iterator[ForkServer]:
    """One fork server for the run (importing the host once costs a second)."""
    server = ForkServer()
    try:
        yield server
    finally:
        server.close()


@pytest.fixture
async def install(
    tmp_path: Path, http: aiohttp.ClientSession, fork_server: ForkServer
) -> AsyncIterator[Install]:
    """The emulator in this process with the default org, and a host install on a
    SQLite file in ``tmp_path`` whose real processes the test starts and kills.
    The host processes' output (DEBUG) goes to the leak scan."""
    emulator = Emulator()
    await emulator.start()
    org = emulator.state.add_org(default_org())
    hosts = HostProcesses(tmp_path, emulator.base_url, fork_server)
    try:
        yield Install(emulator, org, hosts, http)
    finally:
        await hosts.close()
        WATCH.seen("the host processes' output (DEBUG)", hosts.output(), log=True)
        await emulator.close()


# --- the trial counts, shown in every run ------------------------------------------------

_COUNTS: list[str] = []


@pytest.fixture(autouse=True)
def trial_counts(capsys: pytest.CaptureFixture[str]) -> Iterator[None]:
    """Keep what each test prints (its trial counts) for the run's summary, so
    every run shows them, CI's included, without ``-s``."""
    yield
    printed = capsys.readouterr().out
    _COUNTS.extend(line for line in printed.splitlines() if line.strip())


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if _COUNTS:
        terminalreporter.section("fault suite: trial counts")
        for line in _COUNTS:
            terminalreporter.write_line(line)
