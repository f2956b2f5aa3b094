"""``opencx-salesforce connect``: the settings page's job from a terminal, with
credentials from the config file, against the emulator over real HTTP."""

from __future__ import annotations

import asyncio
import socket
import sys
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import aiohttp
import pytest
from admin_support import ADMIN_TOKEN, sign_in_on_salesforce

from opencx_salesforce.cli import main
from opencx_salesforce.devhost import DevHost, load_config
from opencx_salesforce.emulator.app import Emulator
from opencx_salesforce.emulator.seed import (
    DEMO_CLIENT_ID,
    DEMO_CLIENT_SECRET,
    OrgSeed,
    default_org,
)
from opencx_salesforce.outbox import policy
from opencx_salesforce.plugin import SalesforcePlugin
from opencx_salesforce.salesforce.tokens import ConnectionState
from opencx_salesforce.store import namespaces
from opencx_salesforce.store.sqlite import SQLiteStore

WriteConfig = Callable[..., Path]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def callback_for(port: int) -> str:
    return f"http://127.0.0.1:{port}/integrations/salesforce/oauth/callback"


@pytest.fixture
def write_config(tmp_path: Path, emulator: Emulator) -> WriteConfig:
    """``write_config(port, secret=...)``: the host's TOML with a [salesforce]
    table pointing at the emulator, on a SQLite store the host would share."""

    def write(port: int, *, secret: str = DEMO_CLIENT_SECRET, store: str | None = None) -> Path:
        path = tmp_path / "opencx.toml"
        path.write_text(
            "[host]\n"
            f'admin_token = "{ADMIN_TOKEN}"\n'
            f'store_url = "{store or "sqlite:///" + str(tmp_path / "opencx.db")}"\n'
            f"listen_port = {port}\n"
            "[salesforce]\n"
            "dev_mode = true\n"
            f'login_url = "{emulator.base_url}"\n'
            f'client_id = "{DEMO_CLIENT_ID}"\n'
            f'client_secret = "{secret}"\n'
        )
        return path

    return write


def add_org(emulator: Emulator, port: int, *, run_as: bool = True) -> None:
    seed: OrgSeed = default_org(callback_urls=(callback_for(port),))
    if not run_as:
        seed = replace(seed, apps=(replace(seed.apps[0], client_credentials_user=None),))
    emulator.state.add_org(seed)


async def cli(*args: str) -> int:
    """The command in-process (its own event loop, in a thread, while the
    emulator keeps serving on this one)."""
    return await asyncio.to_thread(main, ["connect", *args])


async def host_status(config: Path) -> ConnectionState:
    """What a host started on the same config sees."""
    settings, sections = load_config(config)
    plugin = SalesforcePlugin()
    host = DevHost(settings, plugins={"salesforce": plugin}, plugin_sections=sections)
    await host.start(port=0)
    try:
        assert plugin.is_running
        return (await plugin.runtime.tokens.status()).state
    finally:
        await host.stop()


async def test_client_credentials_status_and_disconnect(
    emulator: Emulator, write_config: WriteConfig, capsys: pytest.CaptureFixture[str]
) -> None:
    port = free_port()
    add_org(emulator, port)
    config = write_config(port)

    assert await cli("--config", str(config), "--status") == 1
    assert "Credentials saved, not connected yet" in capsys.readouterr().out

    assert await cli("--config", str(config), "--flow", "client-credentials") == 0
    out = capsys.readouterr().out
    assert "Connected with the client-credentials flow" in out
    assert "Connected as Ada Admin (admin@acme.example)" in out
    # From the config file only: the host renews the grant with them, so it
    # needs them too (doctor, run without them, said none were configured).
    assert "are not saved in the store. The host renews the grant with them" in out
    assert DEMO_CLIENT_SECRET not in out
    assert await host_status(config) is ConnectionState.CONNECTED

    assert await cli("--config", str(config), "--status") == 0
    assert "Connected as Ada Admin" in capsys.readouterr().out

    assert await cli("--config", str(config), "--disconnect") == 0
    out = capsys.readouterr().out
    assert "Salesforce revoked the plugin's token" in out
    assert "OpenCX_Integration" in out and "OpenSalesforceCaseManagement" in out
    assert "Cases stay untouched" in out
    assert await cli("--config", str(config), "--status") == 1
    assert await host_status(config) is ConnectionState.CREDENTIALS_SAVED


async def test_a_wrong_secret_is_named_before_any_browser(
    emulator: Emulator, write_config: WriteConfig, capsys: pytest.CaptureFixture[str]
) -> None:
    port = free_port()
    add_org(emulator, port)
    config = write_config(port, secret="not-the-right-secret-at-all")
    assert await cli("--config", str(config)) == 1
    out = capsys.readouterr().out
    assert "Credentials won't save: The Client Secret is wrong." in out
    assert "not-the-right-secret-at-all" not in out


async def test_a_memory_store_is_a_configuration_error(
    emulator: Emulator, write_config: WriteConfig, capsys: pytest.CaptureFixture[str]
) -> None:
    config = write_config(free_port(), store="memory://")
    assert await cli("--config", str(config), "--status") == 2
    assert "memory:// keeps nothing" in capsys.readouterr().err


class Running:
    """The command in a child process, as an admin runs it in a terminal."""

    def __init__(self, process: asyncio.subprocess.Process) -> None:
        self.process = process
        self.output: list[str] = []

    @classmethod
    async def start(cls, *args: str) -> Running:
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "opencx_salesforce.cli",
            "connect",
            *args,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
        )
        return cls(process)

    async def line_with(self, needle: str) -> str:
        assert self.process.stdout is not None
        while True:
            raw = await asyncio.wait_for(self.process.stdout.readline(), 20)
            assert raw, "the command ended early:\n" + "".join(self.output)
            line = raw.decode()
            self.output.append(line)
            if needle in line:
                return line.strip()

    async def authorize_url(self) -> str:
        return await self.line_with("/services/oauth2/authorize?")

    async def finish(self, stdin: str | None = None) -> tuple[int, str]:
        data = stdin.encode() if stdin is not None else None
        out, _ = await asyncio.wait_for(self.process.communicate(data), 20)
        return int(self.process.returncode or 0), "".join(self.output) + out.decode()


async def test_without_a_run_as_user_the_admin_pastes_the_address(
    emulator: Emulator, write_config: WriteConfig
) -> None:
    port = free_port()
    add_org(emulator, port, run_as=False)
    config = write_config(port)
    command = await Running.start("--config", str(config), "--paste")
    url = await command.authorize_url()
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as browser:
        back = await sign_in_on_salesforce(browser, url)
    code, out = await command.finish(stdin=back + "\n")
    assert code == 0, out
    assert "The client-credentials flow is not available" in out
    assert "Paste that whole address here" in out
    assert "Connected as Ada Admin (admin@acme.example)" in out
    assert await host_status(config) is ConnectionState.CONNECTED


async def test_a_localhost_redirect_uri_is_caught_by_a_temporary_listener(
    emulator: Emulator, write_config: WriteConfig
) -> None:
    port = free_port()
    add_org(emulator, port, run_as=False)
    config = write_config(port)
    command = await Running.start("--config", str(config), "--flow", "browser")
    url = await command.authorize_url()
    await command.line_with("Waiting for the browser to come back")
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as browser:
        back = await sign_in_on_salesforce(browser, url)
        async with browser.get(back) as landed:
            assert landed.status == 200
            assert "Connected as Ada Admin" in await landed.text()
    code, out = await command.finish()
    assert code == 0, out
    assert await host_status(config) is ConnectionState.CONNECTED


async def test_a_denied_sign_in_is_explained_in_the_terminal(
    emulator: Emulator, write_config: WriteConfig
) -> None:
    port = free_port()
    add_org(emulator, port, run_as=False)
    config = write_config(port)
    command = await Running.start("--config", str(config), "--flow", "browser", "--paste")
    url = await command.authorize_url()
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as browser:
        back = await sign_in_on_salesforce(browser, url, allow=False)
    code, out = await command.finish(stdin=back + "\n")
    assert code == 1
    assert "Connect fails: Access was not allowed." in out


async def test_when_the_host_runs_on_the_redirect_uri_it_finishes_the_sign_in(
    emulator: Emulator, write_config: WriteConfig
) -> None:
    port = free_port()
    add_org(emulator, port, run_as=False)
    config = write_config(port)
    settings, sections = load_config(config)
    host = DevHost(settings, plugins={"salesforce": SalesforcePlugin()}, plugin_sections=sections)
    await host.start()  # on the configured port: the Redirect URI's
    try:
        command = await Running.start("--config", str(config), "--flow", "browser")
        url = await command.authorize_url()
        await command.line_with("the host is probably running there")
        async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as browser:
            back = await sign_in_on_salesforce(browser, url)
            async with browser.get(back) as landed:  # the host's own callback route
                assert "Connected as Ada Admin" in await landed.text()
        code, out = await command.finish()
        assert code == 0, out
        assert "Connected as Ada Admin" in out
    finally:
        await host.stop()


async def test_connecting_from_the_terminal_resumes_the_work_waiting_for_it(
    emulator: Emulator, write_config: WriteConfig, tmp_path: Path
) -> None:
    port = free_port()
    add_org(emulator, port)
    config = write_config(port)
    store = await SQLiteStore.open(f"sqlite:///{tmp_path / 'opencx.db'}")
    try:
        # A handoff that met the missing grant (due again in REAUTH_WAIT), and
        # one backing off after a 503 (left alone).
        for item_id, error in [
            ("handoff:waits", "NeedsReauthorization: Salesforce needs to be connected again"),
            ("handoff:503", "ServiceUnavailable: HTTP 503"),
        ]:
            await store.enqueue(namespaces.OUTBOX, item_id, b"{}")
            [lease] = await store.lease(namespaces.OUTBOX, visibility_timeout=60)
            await store.retry_in(lease, policy.REAUTH_WAIT, error=error)
    finally:
        await store.close()

    assert await cli("--config", str(config), "--flow", "client-credentials") == 0

    store = await SQLiteStore.open(f"sqlite:///{tmp_path / 'opencx.db'}")
    try:
        due = {
            item.item_id: item.available_at <= time.time()
            for item in await store.items(namespaces.OUTBOX)
        }
    finally:
        await store.close()
    assert due == {"handoff:waits": True, "handoff:503": False}
