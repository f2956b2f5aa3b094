"""The plugin under test: the reference host with opencx-salesforce, connected to a
fresh org of the emulator process with the client-credentials flow, as a
server-to-server install would be.

The host drives it through the host contract only (``host.handoff``); the
outbox's workers do the Salesforce work. The benchmark learns the moment a
session carries its ``salesforce_case_id`` (and, for replies, the moment an
agent message lands on it) by wrapping the host's own ``set_session_metadata(_many)``
and ``deliver_agent_message``: a future resolves right after the store write,
so nothing polls and no polling loop competes with the plugin for the CPU.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import aiohttp
from emulator_process import BenchOrg, EmulatorControl
from handoff_workload import (
    CellResult,
    CellSpec,
    Dispenser,
    cell_result,
    closed_loop_async,
    conversation,
    peak_rss_mb,
)
from store_choice import open_bench_store

from opencx_salesforce.clock import SYSTEM_CLOCK, Clock
from opencx_salesforce.devhost.collector import settled_for_serving
from opencx_salesforce.devhost.host import DevHost
from opencx_salesforce.devhost.sessions import SessionRepository
from opencx_salesforce.devhost.stack import start_host
from opencx_salesforce.models import HandoffReason, Session
from opencx_salesforce.plugin import SalesforcePlugin
from opencx_salesforce.runtime import Runtime

# The sweep reads on its own timer; during a handoff measurement it would add its
# queries to the handoffs' count, so it is measured on its own (bench_replies.py).
QUIET_SWEEP = {"sweep_interval_seconds": 86400.0}


@dataclass
class Watch:
    """Futures resolved by the host's writes, keyed by session id or record id."""

    case_ids: dict[str, asyncio.Future[str]] = field(default_factory=dict)
    deliveries: dict[str, asyncio.Future[str]] = field(default_factory=dict)

    def expect_case(self, session_id: str) -> asyncio.Future[str]:
        future: asyncio.Future[str] = asyncio.get_running_loop().create_future()
        self.case_ids[session_id] = future
        return future

    def expect_delivery(self, record_id: str) -> asyncio.Future[str]:
        future = self.deliveries.get(record_id)
        if future is None:
            future = asyncio.get_running_loop().create_future()
            self.deliveries[record_id] = future
        return future


def watch_host(host: DevHost) -> Watch:
    """Wrap the host's writes the plugin calls, to hear them without polling."""
    watch = Watch()
    set_metadata = host.set_session_metadata
    set_many = host.set_session_metadata_many
    deliver = host.deliver_agent_message

    def heard(session_id: str, values: Mapping[str, Any]) -> None:
        if "salesforce_case_id" in values:
            future = watch.case_ids.pop(session_id, None)
            if future is not None and not future.done():
                future.set_result(str(values["salesforce_case_id"]))

    async def set_session_metadata(session_id: str, key: str, value: Any) -> None:
        await set_metadata(session_id, key, value)
        heard(session_id, {key: value})

    async def set_session_metadata_many(session_id: str, values: Mapping[str, Any]) -> None:
        await set_many(session_id, values)
        heard(session_id, values)

    async def deliver_agent_message(
        session_id: str, text: str, author: str, external_id: str
    ) -> None:
        await deliver(session_id, text, author, external_id)
        future = watch.expect_delivery(external_id)
        if not future.done():
            future.set_result(session_id)

    # Instance attributes shadow the methods; the plugin holds this very host.
    setattr(host, "set_session_metadata", set_session_metadata)  # noqa: B010
    setattr(host, "set_session_metadata_many", set_session_metadata_many)  # noqa: B010
    setattr(host, "deliver_agent_message", deliver_agent_message)  # noqa: B010
    return watch


@dataclass
class PluginHost:
    host: DevHost
    plugin: SalesforcePlugin
    url: str
    watch: Watch
    sessions: SessionRepository

    @property
    def runtime(self) -> Runtime:
        return self.plugin.runtime

    async def add_conversation(self, session: Session) -> str:
        """Put a finished bot conversation in the host (not timed)."""
        await self.sessions.add(session)
        return session.id

    async def handoff(self, session_id: str) -> str:
        """Hand off and wait until the session carries its Case Id."""
        future = self.watch.expect_case(session_id)
        await self.host.handoff(session_id, HandoffReason())
        return await future

    async def set_outbox_workers(self, workers: int) -> None:
        outbox = self.runtime.outbox
        await outbox.stop()
        outbox.settings.concurrency = workers
        outbox.start()


@contextlib.asynccontextmanager
async def plugin_host(
    org: BenchOrg,
    settings: Mapping[str, Any] | None = None,
    *,
    store_kind: str = "memory",
    clock: Clock = SYSTEM_CLOCK,
) -> AsyncIterator[PluginHost]:
    """A host with the plugin, connected to ``org`` (client credentials), on a
    fresh store of ``store_kind`` (memory, sqlite, redis, postgres)."""
    opened = await open_bench_store(store_kind, count=False)
    store = opened.store
    host, plugin, url = await start_host(
        store=store,
        emulator_url=org.base_url,
        plugin_settings={**QUIET_SWEEP, **(settings or {})},
        clock=clock,
    )
    try:
        watched = PluginHost(host, plugin, url, watch_host(host), SessionRepository(store))
        tokens = watched.runtime.tokens
        await tokens.save_credentials(org.base_url, org.client_id, org.client_secret)
        await tokens.connect_client_credentials()
        yield watched
    finally:
        await host.stop()
        await store.close()
        await opened.cleanup()


async def measure(
    spec: CellSpec,
    control: EmulatorControl,
    org: BenchOrg,
    *,
    around: Callable[[Awaitable[Any]], Awaitable[Any]] | None = None,
) -> CellResult:
    """One cell for the plugin. ``around`` wraps the timed part (the profiler)."""
    async with plugin_host(org, store_kind=store_of(spec.contender)) as under_test:
        if spec.outbox_workers is not None:
            await under_test.set_outbox_workers(spec.outbox_workers)
        ids = [
            await under_test.add_conversation(conversation(n, spec.messages))
            for n in range(spec.max_handoffs + 1)
        ]
        await under_test.handoff(ids.pop())  # warm-up: connections, caches; not counted
        await control.set_latency(org, spec.latency_ms)
        before = await control.api_calls(org)
        setup_rss = peak_rss_mb()
        server_cpu = await control.cpu_seconds()
        work = Dispenser(ids, spec.budget_seconds, max(spec.min_handoffs, spec.concurrency))

        async def handoff(session_id: str) -> None:
            await under_test.handoff(session_id)

        with settled_for_serving(spec.gc_threshold):  # outside `around`: not timed
            timed = closed_loop_async(work, spec.concurrency, handoff)
            outcome = await (around(timed) if around is not None else timed)
        server_cpu = await control.cpu_seconds() - server_cpu
        after = await control.api_calls(org)
    return cell_result(
        spec, outcome, before, after, setup_rss_mb=setup_rss, server_cpu_seconds=server_cpu
    )


def store_of(contender: str) -> str:
    """The store a plugin contender runs on: ``plugin`` is the default (SQLite),
    ``plugin+redis`` and so on name theirs."""
    _, _, store = contender.partition("+")
    return store or "sqlite"


async def run_cell(
    spec: CellSpec,
    base_url: str,
    *,
    around: Callable[[Awaitable[Any]], Awaitable[Any]] | None = None,
) -> CellResult:
    """One cell on a fresh org of the emulator at ``base_url``; ``around`` wraps
    its timed part (see :func:`measure`)."""
    async with aiohttp.ClientSession() as http:
        control = EmulatorControl(base_url, http)
        org = await control.new_org()
        try:
            return await measure(spec, control, org, around=around)
        finally:
            await control.drop_org(org)
