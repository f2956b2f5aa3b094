"""Real host processes for the kill -9 tests: a config on a SQLite file, the plugin
connected to an emulator running in the test process, lives started through the
fork server (``fault_host_runner.py``) and ended with SIGKILL."""

from __future__ import annotations

import asyncio
import contextlib
import io
import json
import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
from faults_support import ADMIN_TOKEN, FAST_RETRIES, WATCH

from opencx_salesforce.commands.connect import connect_command
from opencx_salesforce.devhost.config import load_config
from opencx_salesforce.emulator.app import Emulator
from opencx_salesforce.emulator.org import Org
from opencx_salesforce.emulator.seed import DEMO_CLIENT_ID, DEMO_CLIENT_SECRET
from opencx_salesforce.salesforce.secrets import generate_key
from opencx_salesforce.settings import load_settings
from opencx_salesforce.store import open_store
from opencx_salesforce.store.base import Store

RUNNER = Path(__file__).with_name("fault_host_runner.py")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    return json.dumps(str(value))  # a JSON string is a valid TOML basic string


class ForkServer:
    """``fault_host_runner.py``, started once for the whole run: it forks a real
    host process per request. Its pipes are read synchronously: an answer is one
    short line, ready within milliseconds."""

    def __init__(self) -> None:
        env = {k: v for k, v in os.environ.items() if not k.startswith("OPENCX_")}
        self._process = subprocess.Popen(
            [sys.executable, str(RUNNER)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            env=env,
            text=True,
        )
        assert self._process.stdout is not None
        ready = self._process.stdout.readline()
        assert ready.strip() == "ready", ready

    def fork(self, request: dict[str, Any]) -> int:
        """Start a host process for ``request``; its pid."""
        assert self._process.stdin is not None and self._process.stdout is not None
        self._process.stdin.write(json.dumps(request) + "\n")
        self._process.stdin.flush()
        return int(self._process.stdout.readline())

    def close(self) -> None:
        assert self._process.stdin is not None
        self._process.stdin.close()
        try:
            self._process.wait(10)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.wait()


@dataclass
class Install:
    """An emulated org, and a host install pointed at it whose processes the test
    starts and kills."""

    emulator: Emulator
    org: Org
    hosts: HostProcesses
    http: aiohttp.ClientSession


@dataclass
class HostLife:
    pid: int
    base_url: str


@dataclass
class HostProcesses:
    """One host install (config + SQLite file) and the processes that run it."""

    folder: Path
    emulator_url: str
    server: ForkServer
    plugin_settings: dict[str, Any] = field(default_factory=dict)
    lives: int = 0
    _live: set[int] = field(default_factory=set)

    def __post_init__(self) -> None:
        self.db = self.folder / "host.db"
        self.config = self.folder / "host.toml"
        self.log = self.folder / "host-output.log"
        self.encryption_key = generate_key()
        WATCH.secret(self.encryption_key, "encryption key")
        salesforce = {
            "login_url": self.emulator_url,
            "client_id": DEMO_CLIENT_ID,
            "client_secret": DEMO_CLIENT_SECRET,
            "encryption_key": self.encryption_key,
            **FAST_RETRIES,
            **self.plugin_settings,
        }
        lines = [
            "[host]",
            f"admin_token = {_toml_value(ADMIN_TOKEN)}",
            f"store_url = {_toml_value('sqlite:///' + str(self.db))}",
            'listen_host = "127.0.0.1"',
            'plugins = ["salesforce"]',
            "",
            "[salesforce]",
            *(f"{key} = {_toml_value(value)}" for key, value in salesforce.items()),
        ]
        self.config.write_text("\n".join(lines) + "\n")

    # --- the install ------------------------------------------------------------------
    async def connect(self) -> str:
        """``opencx-salesforce connect --flow client-credentials``, in this process,
        against the host's SQLite file. Returns what the command printed."""
        host_settings, sections = load_config(self.config, env={})
        settings = load_settings(sections["salesforce"], env={})
        out = io.StringIO()
        code = await connect_command(
            host_settings,
            settings,
            redirect_uri="http://127.0.0.1:1/integrations/salesforce/oauth/callback",
            flow="client-credentials",
            out=out,
            stdin=io.StringIO(),
        )
        WATCH.seen("the connect command's output", out.getvalue())
        assert code == 0, out.getvalue()
        return out.getvalue()

    @contextlib.asynccontextmanager
    async def store(self) -> Any:
        """The host's SQLite file, opened from this process (while no host runs,
        or beside one: the file is shared safely)."""
        opened: Store = await open_store(f"sqlite:///{self.db}")
        try:
            yield opened
        finally:
            await opened.close()

    # --- lives ------------------------------------------------------------------------
    async def start(self, http: aiohttp.ClientSession, *, crash_at: str | None = None) -> HostLife:
        port = free_port()
        request: dict[str, Any] = {"config": str(self.config), "port": port, "log": str(self.log)}
        if crash_at:
            request["crash_at"] = crash_at
        pid = self.server.fork(request)
        self._live.add(pid)
        self.lives += 1
        life = HostLife(pid, f"http://127.0.0.1:{port}")
        deadline = time.monotonic() + 20
        while True:
            if not alive(pid):
                raise AssertionError(f"the host exited at start; see {self.log}")
            with contextlib.suppress(aiohttp.ClientError, OSError):
                async with http.get(f"{life.base_url}/healthz") as response:
                    if response.status == 200:
                        return life
            if time.monotonic() > deadline:
                raise AssertionError(f"the host did not come up; see {self.log}")
            await asyncio.sleep(0.01)

    async def kill(self, life: HostLife) -> None:
        """SIGKILL, then wait until the process is gone."""
        with contextlib.suppress(ProcessLookupError):
            os.kill(life.pid, signal.SIGKILL)
        await wait_gone(life.pid)
        self._live.discard(life.pid)

    async def close(self) -> None:
        for pid in list(self._live):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
            await wait_gone(pid)
        self._live.clear()

    def output(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


async def wait_gone(pid: int, timeout: float = 10.0) -> None:
    # The fork server ignores SIGCHLD, so the kernel reaps its children at once.
    deadline = time.monotonic() + timeout
    while alive(pid):
        if time.monotonic() > deadline:
            raise AssertionError(f"process {pid} still alive after SIGKILL")
        await asyncio.sleep(0.002)
