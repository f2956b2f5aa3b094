"""Live path latency on loopback: agent message → contact, and contact message →
agent, through the real stack (the emulator's Messaging side over HTTP, the
reference host, the plugin's stream and outbox).

    .venv/bin/python bench/bench_live.py [MESSAGES]

No network delay is added: the emulator's latency knob acts on the org's REST
calls, not on the SCRT endpoints, so this measures the plugin's own overhead
(the issue's 50 ms RTT figure is not measured here).
"""

from __future__ import annotations

import asyncio
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import aiohttp

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests" / "live")]

from live_stack import live_host, new_emulator  # noqa: E402
from live_support import Rep  # noqa: E402

from opencx_salesforce.devhost.waiting import wait_for  # noqa: E402
from opencx_salesforce.emulator.messaging.routes import messaging_of  # noqa: E402
from opencx_salesforce.models import Contact, Role  # noqa: E402


async def run(messages: int) -> dict[str, float]:
    emulator, org = await new_emulator()
    stack = await live_host(emulator, org)
    delivered: dict[str, float] = {}
    original = stack.host.deliver_agent_message

    async def timed(session_id: str, text: str, author: str, external_id: str) -> None:
        await original(session_id, text, author, external_id)
        delivered.setdefault(text, time.perf_counter())

    stack.host.deliver_agent_message = timed  # type: ignore[method-assign]
    try:
        session = await stack.host.create_session(
            contact=Contact(name="Ada Lovelace", email="ada@example.com"), topic="Bench"
        )
        await stack.host.handoff(session.id)
        live = stack.runtime.live
        assert live is not None

        async def waiting() -> Any:
            chat = await live.chats.get(session.id)
            return chat if chat is not None and chat.state == "waiting" else None

        chat = await wait_for(waiting, what="the chat")
        side = messaging_of(emulator.app)
        await side.settle()
        async with aiohttp.ClientSession() as http:
            rep = Rep(http, emulator.base_url, org)
            await rep.act(chat.conversation_id, "accept")
            to_contact: list[float] = []
            for number in range(messages):
                text = f"agent {number}"
                sent = time.perf_counter()
                await rep.act(chat.conversation_id, "message", text=text)
                await wait_for(lambda t=text: _true(t in delivered), every=0.0005)
                to_contact.append((delivered[text] - sent) * 1000)
            conversation = side.of(org).conversations[chat.conversation_id]
            to_agent: list[float] = []
            for number in range(min(messages, 20)):  # 22 a minute per conversation
                text = f"contact {number}"
                sent = time.perf_counter()
                await stack.host.post_message(session.id, Role.CONTACT, text)
                await wait_for(
                    lambda t=text: _true(
                        any(
                            e.payload.get("abstractMessage", {})
                            .get("staticContent", {})
                            .get("text")
                            == t
                            for e in conversation.entries
                        )
                    ),
                    every=0.0005,
                )
                to_agent.append((time.perf_counter() - sent) * 1000)
        return {
            "agent_to_contact_p50_ms": statistics.median(to_contact),
            "agent_to_contact_max_ms": max(to_contact),
            "contact_to_agent_p50_ms": statistics.median(to_agent),
            "contact_to_agent_max_ms": max(to_agent),
        }
    finally:
        await stack.close()


async def _true(value: bool) -> bool:
    return value


if __name__ == "__main__":
    result = asyncio.run(run(int(sys.argv[1]) if len(sys.argv) > 1 else 50))
    for key, value in result.items():
        print(f"{key}: {value:.1f}")
