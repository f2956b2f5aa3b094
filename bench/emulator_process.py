"""The Salesforce emulator in a process of its own, for the benchmarks.

Salesforce is another machine: its CPU time must not be charged to the client
being measured, nor the client's to it, and a client's peak RSS must not include
the server. So every benchmark talks to this process over loopback HTTP, as it
would to a real org, and drives it only through the emulator's own admin API
(``/_emulator/orgs/{orgId}/faults``, ``/stats``, ``/package``, the rep's
``/cases/{caseId}/reply``).

Two routes are added for the benchmarks. ``POST /_bench/clock`` moves the
emulator's clock forward (``bench_live.py``, past the per-minute token limit).
``POST /_bench/orgs`` makes a fresh org
for each measurement, so no measurement runs on the data another one left behind
(``DELETE /_bench/orgs/{orgId}`` drops it again). Its daily API limit is raised
so that the per-call baselines are not cut off half-way: the calls are counted
either way, and the report converts them into a real org's daily quota.

    python bench/emulator_process.py     # prints "READY http://127.0.0.1:PORT"

It serves until its standard input closes (the parent exited) or SIGTERM.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, replace
from pathlib import Path
from types import TracebackType
from typing import Any

import aiohttp
from aiohttp import web

from opencx_salesforce.emulator.app import Emulator
from opencx_salesforce.emulator.seed import (
    DEMO_CLIENT_ID,
    DEMO_CLIENT_SECRET,
    OrgSeed,
    default_org,
)

READY = "READY "
# High enough that no benchmark run reaches it; real quotas are applied in the report.
BENCH_DAILY_API_LIMIT = 1_000_000_000


def bench_seed(number: int) -> OrgSeed:
    """The default org, with its own Connected App client id (the token endpoint
    tells orgs apart by it) and the raised limit."""
    seed = default_org()
    apps = tuple(replace(app, client_id=f"{DEMO_CLIENT_ID}.bench{number}") for app in seed.apps)
    return replace(seed, apps=apps, daily_api_limit=BENCH_DAILY_API_LIMIT)


def add_bench_routes(emulator: Emulator) -> None:
    counter = itertools.count(1)

    async def new_org(request: web.Request) -> web.Response:
        seed = bench_seed(next(counter))
        org = emulator.state.add_org(seed)
        app = seed.apps[0]
        return web.json_response(
            {"orgId": org.id, "clientId": app.client_id, "clientSecret": app.client_secret},
            status=201,
        )

    async def drop_org(request: web.Request) -> web.Response:
        # Only the records go: the org's tokens stay valid but nothing is kept alive.
        org = emulator.state.orgs.get(request.match_info["org_id"])
        if org is None:
            return web.json_response({"error": "no such org"}, status=404)
        for table in org.records.values():
            table.clear()
        return web.Response(status=204)

    async def cpu(request: web.Request) -> web.Response:
        # The server's own CPU time: what a client's way of working costs Salesforce.
        return web.json_response({"cpuSeconds": time.process_time()})

    async def advance_clock(request: web.Request) -> web.Response:
        # Past a per-minute limit without waiting the minute (bench_live.py opens
        # 1,000 chats; an org gets 200 Messaging access tokens a minute).
        seconds = float((await request.json())["advanceSeconds"])
        emulator.state.clock.advance(seconds)
        return web.json_response({"now": emulator.state.clock.now()})

    emulator.app.router.add_get("/_bench/cpu", cpu)
    emulator.app.router.add_post("/_bench/clock", advance_clock)
    emulator.app.router.add_post("/_bench/orgs", new_org)
    emulator.app.router.add_delete("/_bench/orgs/{org_id}", drop_org)


async def serve() -> None:
    emulator = Emulator()
    add_bench_routes(emulator)
    url = await emulator.start()
    print(READY + url, flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    # The parent holds our stdin: its end (even a crash) ends us.
    loop.add_reader(sys.stdin.fileno(), lambda: stop.set() if not sys.stdin.read(1) else None)
    await stop.wait()
    await emulator.close()


# --- the parent's side --------------------------------------------------------------------


@dataclass(frozen=True)
class BenchOrg:
    base_url: str
    org_id: str
    client_id: str
    client_secret: str = DEMO_CLIENT_SECRET

    @property
    def admin_url(self) -> str:
        return f"{self.base_url}/_emulator/orgs/{self.org_id}"


class EmulatorProcess:
    """Starts ``emulator_process.py`` and stops it (a context manager)."""

    def __init__(self) -> None:
        self._process: subprocess.Popen[str] | None = None
        self.base_url = ""

    def __enter__(self) -> EmulatorProcess:
        self._process = subprocess.Popen(
            [sys.executable, str(Path(__file__).resolve())],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self._process.stdout is not None
        line = self._process.stdout.readline()
        if not line.startswith(READY):
            self.__exit__(None, None, None)
            raise RuntimeError(f"the emulator did not start: {line!r}")
        self.base_url = line[len(READY) :].strip()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        process, self._process = self._process, None
        if process is None:
            return
        with contextlib.suppress(OSError):
            assert process.stdin is not None
            process.stdin.close()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.terminate()
            process.wait(timeout=10)


class EmulatorControl:
    """The admin API of a running emulator, for one benchmark process."""

    def __init__(self, base_url: str, http: aiohttp.ClientSession) -> None:
        self.base_url = base_url
        self._http = http

    async def new_org(self) -> BenchOrg:
        async with self._http.post(f"{self.base_url}/_bench/orgs") as response:
            response.raise_for_status()
            body = await response.json()
        return BenchOrg(self.base_url, body["orgId"], body["clientId"], body["clientSecret"])

    async def drop_org(self, org: BenchOrg) -> None:
        async with self._http.delete(f"{self.base_url}/_bench/orgs/{org.org_id}") as response:
            response.raise_for_status()

    async def cpu_seconds(self) -> float:
        """The emulator process's CPU time so far."""
        async with self._http.get(f"{self.base_url}/_bench/cpu") as response:
            response.raise_for_status()
            return float((await response.json())["cpuSeconds"])

    async def advance_clock(self, seconds: float) -> None:
        await self._post(f"{self.base_url}/_bench/clock", {"advanceSeconds": seconds})

    async def set_latency(self, org: BenchOrg, latency_ms: float) -> None:
        await self._post(f"{org.admin_url}/faults", {"api": {"latency_ms": latency_ms}})

    async def set_webhook_faults(self, org: BenchOrg, knobs: dict[str, Any]) -> None:
        """The simulated package's fault knobs (``drop_rate``: a doorbell never sent)."""
        await self._post(f"{org.admin_url}/faults", {"webhooks": knobs})

    async def api_calls(self, org: BenchOrg) -> dict[str, int]:
        """API calls the org has served, by endpoint (the emulator's own count)."""
        async with self._http.get(f"{org.admin_url}/stats") as response:
            response.raise_for_status()
            body = await response.json()
        return {str(k): int(v) for k, v in body["api"]["byEndpoint"].items()}

    async def webhook_counters(self, org: BenchOrg) -> dict[str, Any]:
        """The simulated package's callouts: sent, delivered, failed, ..."""
        async with self._http.get(f"{org.admin_url}/stats") as response:
            response.raise_for_status()
            counters: dict[str, Any] = (await response.json())["webhooks"]
            return counters

    async def total_api_calls(self, org: BenchOrg) -> int:
        return sum((await self.api_calls(org)).values())

    async def deploy_package(self, org: BenchOrg, webhook_url: str, secret: str | None) -> None:
        await self._post(
            f"{org.admin_url}/package", {"webhookUrl": webhook_url, "signingSecret": secret}
        )

    async def digest(self, org: BenchOrg, action: str) -> dict[str, Any]:
        """The package's digest: "start", "stop", or "run_due" (run it now if its
        minute on the org's clock has come); its stats and whether it ran."""
        return await self._post(f"{org.admin_url}/digest", {"action": action})

    async def rep_reply(self, org: BenchOrg, case_id: str, text: str) -> str:
        """A support rep's public comment on the Case; returns its Id."""
        body = await self._post(f"{org.admin_url}/cases/{case_id}/reply", {"text": text})
        return str(body["id"])

    async def _post(self, url: str, body: dict[str, Any]) -> dict[str, Any]:
        async with self._http.post(url, data=json.dumps(body), headers=_JSON) as response:
            answer: dict[str, Any] = await response.json()
            if response.status >= 400:
                raise RuntimeError(f"emulator refused {url}: {response.status} {answer}")
            return answer


_JSON = {"Content-Type": "application/json"}


if __name__ == "__main__":
    asyncio.run(serve())
