"""PostgreSQL for the fault suite: a fresh schema on the shared server per test,
host processes whose ``store_url`` points at it, and a throwaway cluster of the
test's own for the tests that restart PostgreSQL (the machine's server is shared
by others and is never restarted).

Copied rather than imported: ``tests/store/store_backends.py`` has the same
schema helpers, but the fault suite does not put ``tests/store`` on its path.
"""

from __future__ import annotations

import asyncio
import contextlib
import glob
import os
import shutil
import subprocess
import tempfile
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import asyncpg
from faults_kill_support import HostProcesses, free_port

from opencx_salesforce.store import open_store
from opencx_salesforce.store.base import Store

POSTGRES_URL = os.environ.get(
    "OPENCX_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test"
)


def fresh_schema() -> str:
    return f"opencx_test_{os.getpid()}_{uuid.uuid4().hex[:8]}"


async def drop_schema(schema: str, server_url: str = POSTGRES_URL) -> None:
    """Drop a schema this test created (and only such a one)."""
    assert schema.startswith("opencx_test_"), schema
    conn = await asyncpg.connect(server_url)
    try:
        await conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
    finally:
        await conn.close()


@dataclass
class PostgresHostProcesses(HostProcesses):
    """:class:`HostProcesses` whose config says ``store_url = "postgresql://…"``:
    the host, its journal and the plugin keep everything in that schema."""

    store_url: str = ""

    def __post_init__(self) -> None:
        super().__post_init__()
        assert self.store_url.startswith("postgresql://"), self.store_url
        lines = [
            f'store_url = "{self.store_url}"' if line.startswith("store_url =") else line
            for line in self.config.read_text().splitlines()
        ]
        self.config.write_text("\n".join(lines) + "\n")

    @contextlib.asynccontextmanager
    async def store(self) -> Any:
        opened: Store = await open_store(self.store_url)
        try:
            yield opened
        finally:
            await opened.close()


def _pg_bin(name: str) -> str:
    found = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))
    if not found:
        raise RuntimeError(f"no PostgreSQL {name} under /usr/lib/postgresql/*/bin")
    return found[-1]


def _as_postgres(argv: list[str]) -> list[str]:
    """initdb and the server refuse to run as root: run them as ``postgres``."""
    if os.geteuid() == 0:
        return ["runuser", "-u", "postgres", "--", *argv]
    return argv


@dataclass
class ThrowawayCluster:
    """A PostgreSQL cluster of this test's own, in a temporary folder, on a free
    port: restarting it disturbs no one."""

    folder: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="opencx-pg-")))
    port: int = field(default_factory=free_port)

    @property
    def data(self) -> Path:
        return self.folder / "data"

    @property
    def url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def _run(self, *argv: str) -> None:
        subprocess.run(_as_postgres(list(argv)), check=True, capture_output=True, timeout=120)

    def init(self) -> None:
        if os.geteuid() == 0:
            shutil.chown(self.folder, "postgres", "postgres")
        self._run(
            _pg_bin("initdb"), "-D", str(self.data), "-U", "postgres", "--auth=trust",
            "--no-sync", "-E", "UTF8",
        )  # fmt: skip

    def _options(self) -> str:
        return f"-p {self.port} -k {self.folder} -c listen_addresses=127.0.0.1 -c fsync=off"

    def start(self) -> None:
        self._run(
            _pg_bin("pg_ctl"), "-D", str(self.data), "-o", self._options(),
            "-l", str(self.folder / "server.log"), "-w", "start",
        )  # fmt: skip

    def restart(self) -> None:
        """``pg_ctl restart -m fast``: every connection is cut, in-flight
        transactions roll back, the server comes back on the same port."""
        self._run(
            _pg_bin("pg_ctl"), "-D", str(self.data), "-o", self._options(),
            "-l", str(self.folder / "server.log"), "-m", "fast", "-w", "restart",
        )  # fmt: skip

    def stop(self) -> None:
        with contextlib.suppress(subprocess.CalledProcessError):
            self._run(_pg_bin("pg_ctl"), "-D", str(self.data), "-m", "immediate", "-w", "stop")
        shutil.rmtree(self.folder, ignore_errors=True)


@contextlib.asynccontextmanager
async def throwaway_cluster() -> AsyncIterator[ThrowawayCluster]:
    cluster = ThrowawayCluster()
    try:
        await asyncio.to_thread(cluster.init)
        await asyncio.to_thread(cluster.start)
        yield cluster
    finally:
        await asyncio.to_thread(cluster.stop)
