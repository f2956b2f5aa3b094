"""kill -9 of the host process that holds a live chat's event stream: another
host process, on the same store, takes the stream over when the lease runs out
and resumes from the ``Last-Event-Id`` kept in the store; every agent message
reaches the contact exactly once, in order.

Two real ``opencx-salesforce serve`` processes (the fork server of the kill
tests) share one SQLite file, and with it the host's sessions: what the contact
sees is the session's agent messages, read from the surviving host's JSON API.
The emulator (Salesforce and its Messaging side) runs in this process; the rep
types through its agent routes while the holder is killed.
"""

from __future__ import annotations

import asyncio
from typing import Any

import aiohttp
from faults_kill_support import ForkServer, HostLife, HostProcesses, alive
from faults_support import ADMIN_TOKEN, FAST_RETRIES, HostApi

from opencx_salesforce.devhost.waiting import wait_for
from opencx_salesforce.emulator.app import Emulator
from opencx_salesforce.emulator.messaging.deployment import DEFAULT_DEPLOYMENT
from opencx_salesforce.emulator.seed import default_org
from opencx_salesforce.live.records import LiveChats

LEASE_SECONDS = 1.0  # production keeps 30 s; the takeover is the lease's lapse
MESSAGES = 30
KILL_AFTER = 10  # the holder dies once this many reached the contact


async def test_kill_9_of_the_stream_holder_another_process_resumes_without_loss_or_duplicate(
    tmp_path: Any, http: aiohttp.ClientSession, fork_server: ForkServer
) -> None:
    emulator = Emulator()
    await emulator.start()
    org = emulator.state.add_org(default_org())
    hosts = HostProcesses(tmp_path, emulator.base_url, fork_server, dict(FAST_RETRIES))
    live = {
        "scrt_url": emulator.base_url,  # the emulator's host stands for the SCRT URL
        "org_id": org.id,
        "deployment": DEFAULT_DEPLOYMENT,
        "channels": ["chat"],
        "stream_lease_seconds": LEASE_SECONDS,
    }
    with hosts.config.open("a") as config:  # [salesforce.live] after [salesforce]
        config.write("\n[salesforce.live]\n")
        config.write("".join(f"{k} = {_toml(v)}\n" for k, v in live.items()))
    agent = f"{emulator.base_url}/_emulator/orgs/{org.id}/messaging/conversations"
    try:
        await hosts.connect()
        # The first instance alone takes the handoff, so its stream is the one held.
        first = await hosts.start(http)
        api = HostApi(http, first.base_url, ADMIN_TOKEN)
        status, created = await api.call(
            "POST",
            "/api/sessions",
            {
                "channel": "chat",
                "contact": {"name": "Ada Lovelace", "email": "ada@example.com"},
                "topic": "Refund for order 4417",
                "summary": "Wants a refund for a damaged parcel.",
                "language": "en",
            },
        )
        assert status == 201, created
        session_id = str(created["id"])
        await api.post_message(session_id, "contact", "My parcel arrived broken.")
        await api.handoff(session_id)
        async with hosts.store() as store:
            chats = LiveChats(store)
            conversation_id = await _conversation(chats, session_id)

            async def routed() -> bool:
                async with http.get(f"{agent}/{conversation_id}") as response:
                    return bool((await response.json())["session"]["routed"])

            await wait_for(routed, timeout=20, what="the work routed to the queue")
            await _act(http, f"{agent}/{conversation_id}/accept", {})
            first_holder = await wait_for(
                lambda: chats.lease_holder(conversation_id), what="the first host's lease"
            )
            second = await hosts.start(http)
            survivor = HostApi(http, second.base_url, ADMIN_TOKEN)
            texts = [f"agent message {n:02d}" for n in range(MESSAGES)]
            send_url = f"{agent}/{conversation_id}/message"
            await _type(http, send_url, texts[:KILL_AFTER])

            async def seen(count: int) -> bool:
                shown = await _agent_texts(survivor, session_id)
                assert shown == texts[: len(shown)], shown  # in order, none twice, ever
                return len(shown) >= count

            await wait_for(lambda: seen(KILL_AFTER), timeout=20, what="the first messages")
            # The rep goes on typing; the holder dies while the next ones arrive.
            sender = asyncio.create_task(_type(http, send_url, texts[KILL_AFTER:]))
            await asyncio.sleep(0.1)
            await hosts.kill(first)
            assert not alive(first.pid)
            await sender
            await wait_for(lambda: seen(MESSAGES), timeout=30, what="all agent messages")
            holder = await chats.lease_holder(conversation_id)
            assert holder is not None and holder != first_holder  # the survivor reads it
            chat = await chats.get(session_id)
            assert chat is not None and chat.last_event_id  # resumed from the stored id
            assert await _agent_texts(survivor, session_id) == texts
            await _still_alive(second)
    finally:
        await hosts.close()
        await emulator.close()


async def _conversation(chats: LiveChats, session_id: str) -> str:
    async def created() -> str | None:
        chat = await chats.get(session_id)
        return chat.conversation_id if chat is not None and chat.state != "starting" else None

    found: str = await wait_for(created, timeout=20, what="the live conversation")
    return found


async def _type(http: aiohttp.ClientSession, url: str, texts: list[str]) -> None:
    """The rep types at a steady pace, through the kill and the takeover."""
    for text in texts:
        await _act(http, url, {"text": text})
        await asyncio.sleep(0.05)


async def _act(http: aiohttp.ClientSession, url: str, body: dict[str, Any]) -> None:
    async with http.post(url, json=body) as response:
        assert response.status == 200, await response.text()


async def _agent_texts(api: HostApi, session_id: str) -> list[str]:
    session = await api.session(session_id)
    return [m["text"] for m in session["messages"] if m["role"] == "agent"]


async def _still_alive(life: HostLife) -> None:
    assert alive(life.pid), "the surviving host died"


def _toml(value: Any) -> str:
    if isinstance(value, list):
        return "[" + ", ".join(_toml(v) for v in value) + "]"
    if isinstance(value, int | float) and not isinstance(value, bool):
        return repr(value)
    return '"' + str(value).replace("\\", "\\\\").replace('"', '\\"') + '"'
