"""Fixtures for the foundation: a running reference host on a loopback port, an
HTTP client, and third-party plugins installed as real distributions."""

from __future__ import annotations

import sys
import textwrap
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from foundation_support import InstallPlugin, StartHost, host_settings

from opencx_salesforce.devhost import DevHost, HostSettings
from opencx_salesforce.store.memory import MemoryStore


@pytest.fixture
async def start_host() -> AsyncIterator[StartHost]:
    """``await start_host(plugins={...}, ...)``: a DevHost started on a free
    loopback port (on its own MemoryStore unless ``store=`` is given), stopped
    after the test."""
    started: list[DevHost] = []

    async def start(settings: HostSettings | None = None, **kwargs: Any) -> DevHost:
        if "store" not in kwargs:
            kwargs["store"] = MemoryStore()  # store=None: the host opens its store_url
        host = DevHost(settings or host_settings(), **kwargs)
        await host.start(host="127.0.0.1", port=0)
        started.append(host)
        return host

    yield start
    for host in reversed(started):
        await host.stop()


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


@pytest.fixture
def install_plugin(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest
) -> InstallPlugin:
    """``install_plugin(entry_point_name, module_source) -> module name``: a
    distribution with an ``opencx`` entry point ``<name> = <module>:plugin``,
    written into a folder on sys.path, as ``pip install`` would leave it."""

    def install(entry_point: str, source: str) -> str:
        module = f"opencx_test_{entry_point}_{uuid.uuid4().hex[:8]}"
        dist = module.replace("_", "-")
        site = tmp_path / "site"
        site.mkdir(exist_ok=True)
        (site / f"{module}.py").write_text(textwrap.dedent(source))
        info = site / f"{module}-1.0.dist-info"
        info.mkdir()
        (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: 1.0\n")
        (info / "entry_points.txt").write_text(f"[opencx]\n{entry_point} = {module}:plugin\n")
        monkeypatch.syspath_prepend(str(site))
        # The host imports the module; forget it after the test.
        request.addfinalizer(lambda: sys.modules.pop(module, None))
        return module

    return install
