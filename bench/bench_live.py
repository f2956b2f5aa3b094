"""The live path: agent message → contact and contact message → agent at a given
round trip to the SCRT host, and the memory a host process spends on open live
conversations.

    .venv/bin/python bench/bench_live.py                      # 50 ms RTT, 50 messages, 1,000 chats
    .venv/bin/python bench/bench_live.py --rtt-ms 0 --messages 20 --conversations 100

Salesforce is the emulator in a process of its own (``emulator_process.py``), so
the RSS below is the host's alone. The round trip is the Messaging side's
``latency_ms`` knob (``POST /_emulator/orgs/{orgId}/messaging/faults``): an SCRT
call waits half of it in and half out, an event reaches the stream half of it
after it happened (a one-way delay: the stream is already open). The org's REST
API gets the same round trip (``/faults`` ``api.latency_ms``). The rep's console
is inside Salesforce: no delay between the rep and the platform.

* agent → contact: from the rep's send (``POST .../conversations/{id}/message``
  on the emulator) to the host's ``deliver_agent_message`` for it;
* contact → agent: from ``host.post_message`` to the entry's own timestamp in the
  conversation (the emulator's wall clock; same machine, same clock), i.e. when
  the rep could see it; the plugin's outbox sends it;
* memory: this process's RSS (the reference host, the plugin, a SQLite store)
  before the chats and once ``--conversations`` chats each hold an open stream,
  waiting in the queue. The emulator allows 200 access tokens a minute per org
  [Help service.miaw_rate_limits.htm]: its clock is moved a minute forward
  between batches (``POST /_bench/clock``) instead of waiting.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from functools import partial
from pathlib import Path
from typing import Any

import aiohttp

ROOT = Path(__file__).resolve().parent
sys.path[:0] = [str(ROOT.parent), str(ROOT)]

from emulator_process import BenchOrg, EmulatorControl, EmulatorProcess  # noqa: E402

from opencx_salesforce.devhost.host import DevHost  # noqa: E402
from opencx_salesforce.devhost.stack import start_host  # noqa: E402
from opencx_salesforce.devhost.waiting import wait_for  # noqa: E402
from opencx_salesforce.emulator.messaging.deployment import DEFAULT_DEPLOYMENT  # noqa: E402
from opencx_salesforce.live.service import LiveService  # noqa: E402
from opencx_salesforce.models import Contact, Role  # noqa: E402
from opencx_salesforce.plugin import SalesforcePlugin  # noqa: E402
from opencx_salesforce.store.sqlite import SQLiteStore  # noqa: E402

TOKENS_PER_BATCH = 150  # under the 200 a minute, with room for retries
# 22 inbound messages a minute per conversation [Help service.miaw_rate_limits.htm]:
# the summary, a warm-up and these stay under it.
CONTACT_MESSAGES = 15


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS")


async def run(rtt_ms: float, messages: int, conversations: int) -> dict[str, float]:
    with EmulatorProcess() as process, tempfile.TemporaryDirectory() as folder:
        async with aiohttp.ClientSession() as http:
            control = EmulatorControl(process.base_url, http)
            org = await control.new_org()
            await control.set_latency(org, rtt_ms)
            await _post(http, f"{org.admin_url}/messaging/faults", {"latency_ms": rtt_ms})
            store = await SQLiteStore.open(f"sqlite:///{folder}/host.db")
            host, plugin = await _host(org, store)
            try:
                result = await _latencies(http, host, plugin, org, messages)
                result["rtt_ms"] = rtt_ms
                if conversations:
                    result.update(await _memory(http, control, host, plugin, org, conversations))
                return result
            finally:
                await host.stop()
                await store.close()


async def _host(org: BenchOrg, store: SQLiteStore) -> tuple[DevHost, SalesforcePlugin]:
    live = {
        "scrt_url": org.base_url,  # the emulator's host stands for the SCRT URL
        "org_id": org.org_id,
        "deployment": DEFAULT_DEPLOYMENT,
        "channels": ["chat"],
        "queue_timeout_seconds": 3600.0,  # the memory run's chats wait in the queue
    }
    host, plugin, _ = await start_host(
        store=store,
        emulator_url=org.base_url,
        plugin_settings={"live": live, "sweep_interval_seconds": 86400.0},
    )
    tokens = plugin.runtime.tokens
    await tokens.save_credentials(org.base_url, org.client_id, org.client_secret)
    await tokens.connect_client_credentials()
    return host, plugin


def _live(plugin: SalesforcePlugin) -> LiveService:
    live = plugin.runtime.live
    assert live is not None
    return live


async def _new_chat(host: DevHost, plugin: SalesforcePlugin, number: int) -> str:
    session = await host.create_session(
        channel="chat",
        contact=Contact(name=f"Customer {number}", email=f"c{number}@example.com"),
        topic="Bench",
        language="en",
    )
    await host.post_message(session.id, Role.CONTACT, "I need a person.")
    await host.handoff(session.id)
    return session.id


async def _waiting(plugin: SalesforcePlugin, session_id: str) -> str:
    async def created() -> str | None:
        chat = await _live(plugin).chats.get(session_id)
        return chat.conversation_id if chat is not None and chat.is_open else None

    found: str = await wait_for(created, timeout=120, what="the chat in the queue")
    return found


async def _latencies(
    http: aiohttp.ClientSession,
    host: DevHost,
    plugin: SalesforcePlugin,
    org: BenchOrg,
    messages: int,
) -> dict[str, float]:
    delivered: dict[str, asyncio.Future[float]] = {}
    original = host.deliver_agent_message

    async def timed(session_id: str, text: str, author: str, external_id: str) -> None:
        await original(session_id, text, author, external_id)
        future = delivered.get(text)
        if future is not None and not future.done():
            future.set_result(time.perf_counter())

    host.deliver_agent_message = timed  # type: ignore[method-assign]
    session_id = await _new_chat(host, plugin, 0)
    conversation_id = await _waiting(plugin, session_id)
    rep = f"{org.admin_url}/messaging/conversations/{conversation_id}"
    await _settled(lambda: _routed(http, rep))
    await _post(http, f"{rep}/accept", {})
    await wait_for(
        lambda: _state_is(plugin, session_id, "active"), timeout=30, what="the agent joined"
    )
    loop = asyncio.get_running_loop()
    to_contact: list[float] = []
    for number in range(messages + 1):  # the first warms the path, not counted
        text = f"agent {number}"
        delivered[text] = loop.create_future()
        sent = time.perf_counter()
        await _post(http, f"{rep}/message", {"text": text})
        arrived = await asyncio.wait_for(delivered[text], 30)
        if number:
            to_contact.append((arrived - sent) * 1000)
    to_agent: list[float] = []
    for number in range(min(messages, CONTACT_MESSAGES) + 1):
        text = f"contact {number}"
        sent = time.time()
        await host.post_message(session_id, Role.CONTACT, text)
        seen_ms = await wait_for(partial(_entry_time, http, rep, text), every=0.005, timeout=30)
        if number:
            to_agent.append(seen_ms - sent * 1000)
        # Each on its own: the plugin sends a chat's messages one at a time (their
        # order), so one written while the last is on the wire waits its answer.
        await wait_for(lambda: _all_sent(plugin, session_id), timeout=30, what="sent")
    return {
        "agent_to_contact_p50_ms": statistics.median(to_contact),
        "agent_to_contact_p90_ms": _p90(to_contact),
        "contact_to_agent_p50_ms": statistics.median(to_agent),
        "contact_to_agent_p90_ms": _p90(to_agent),
    }


async def _memory(
    http: aiohttp.ClientSession,
    control: EmulatorControl,
    host: DevHost,
    plugin: SalesforcePlugin,
    org: BenchOrg,
    conversations: int,
) -> dict[str, float]:
    keeper = _live(plugin).keeper
    before = rss_mb()
    held_before = len(keeper.held)
    started = time.perf_counter()
    sessions: list[str] = []
    for first in range(1, conversations + 1, TOKENS_PER_BATCH):
        batch = range(first, min(first + TOKENS_PER_BATCH, conversations + 1))
        ids = await asyncio.gather(*(_new_chat(host, plugin, n) for n in batch))
        await asyncio.gather(*(_waiting(plugin, sid) for sid in ids))
        sessions.extend(ids)
        await control.advance_clock(61)  # the next batch's access tokens
    keeper.wake()

    async def all_held() -> bool:
        return len(keeper.held) >= held_before + conversations

    await wait_for(all_held, timeout=300, what="every stream held")
    # The streams are open when the rep's message on the last chat arrives.
    last = await _waiting(plugin, sessions[-1])
    await _post(http, f"{org.admin_url}/messaging/conversations/{last}/accept", {})
    await wait_for(lambda: _state_is(plugin, sessions[-1], "active"), timeout=60, what="joined")
    opened = time.perf_counter() - started
    await asyncio.sleep(2)  # let the handoffs' garbage go before reading RSS
    after = rss_mb()
    return {
        "conversations": conversations,
        "streams_held": len(keeper.held),
        "rss_before_mb": before,
        "rss_after_mb": after,
        "rss_per_1000_mb": (after - before) * 1000 / conversations,
        "seconds_to_open": opened,
    }


async def _routed(http: aiohttp.ClientSession, rep: str) -> bool:
    async with http.get(rep) as response:
        return bool((await response.json())["session"]["routed"])


async def _settled(check: Callable[[], Awaitable[bool]]) -> None:
    await wait_for(check, timeout=30, what="the work routed")


async def _state_is(plugin: SalesforcePlugin, session_id: str, state: str) -> bool:
    chat = await _live(plugin).chats.get(session_id)
    return chat is not None and chat.state == state


async def _all_sent(plugin: SalesforcePlugin, session_id: str) -> bool:
    chat = await _live(plugin).chats.get(session_id)
    return chat is not None and not chat.outgoing


async def _entry_time(http: aiohttp.ClientSession, rep: str, text: str) -> float | None:
    async with http.get(rep) as response:
        conversation = await response.json()
    for entry in conversation["entries"]:
        payload = entry.get("entryPayload") or {}
        if payload.get("abstractMessage", {}).get("staticContent", {}).get("text") == text:
            return float(entry["transcriptedTimestamp"])
    return None


async def _post(http: aiohttp.ClientSession, url: str, body: dict[str, Any]) -> None:
    async with http.post(url, json=body) as response:
        if response.status >= 400:
            raise RuntimeError(f"{url}: {response.status} {await response.text()}")


def _p90(values: list[float]) -> float:
    return sorted(values)[max(0, int(len(values) * 0.9) - 1)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rtt-ms", type=float, default=50.0)
    parser.add_argument("--messages", type=int, default=50)
    parser.add_argument("--conversations", type=int, default=1000)
    args = parser.parse_args()
    result = asyncio.run(run(args.rtt_ms, args.messages, args.conversations))
    print(json.dumps({k: round(v, 1) for k, v in result.items()}, indent=1))


if __name__ == "__main__":
    main()
