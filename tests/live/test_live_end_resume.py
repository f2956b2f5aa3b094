"""The contact leaving and the fallback, cut short between their steps by a
graceful stop (DevHost.stop → plugin_stopping) or a kill, are finished by the
next instance: their intent is in the store before their first step. The
contact leaving was left ended with the session handed off (and the words
they wrote into the chat off the Case, when cut before the append); the
fallback configured to resolve was left fallen back, the session never
resolved (its queue job, run again, found the chat no longer waiting)."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

import aiohttp
import pytest
from live_stack import live_host, new_emulator, two_hosts
from live_support import Rep
from test_live_edges import on_the_case, status
from test_live_end import Pause, keeper_of, live_of, words_sent
from test_live_handoff import agent_texts, chat_session, live_chat

from opencx_salesforce.devhost.waiting import wait_for
from opencx_salesforce.live.records import LiveChats
from opencx_salesforce.models import Role, SessionStatus
from opencx_salesforce.settings.live import DEFAULT_ACKNOWLEDGEMENT
from opencx_salesforce.store.memory import MemoryStore


async def test_a_fallback_stopped_before_its_resolution_is_finished_at_the_next_start(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    emulator, org = await new_emulator()
    store = MemoryStore()
    live: dict[str, Any] = {"fallback": "resolve", "queue_timeout_seconds": 0.5}
    first = await live_host(emulator, org, store=store, live=live)
    second = None
    try:
        async with aiohttp.ClientSession() as http:
            await Rep(http, emulator.base_url, org).faults(no_agent=True)
        session = await chat_session(first)
        pause = Pause()
        monkeypatch.setattr(first.host, "resolve_session", pause.around(first.host.resolve_session))
        await first.host.handoff(session.id)
        await pause.wait()  # fallen back, the contact told, the resolution next

        await first.host.stop()  # the graceful stop, as a rolling deploy's
        chat = await LiveChats(store).get(session.id)
        assert chat is not None and chat.state == "fallback"
        assert await status(first, session.id) == SessionStatus.HANDED_OFF

        second = await live_host(emulator, org, store=store, live=live, connect=False)

        async def resolved() -> bool:
            return await status(second, session.id) == SessionStatus.RESOLVED

        await wait_for(resolved, timeout=10, what="the fallback's resolution, at the next start")
        done = await live_of(second).chats.get(session.id)
        assert done is not None and done.state == "fallback" and not done.ending
        assert chat.conversation_id == done.conversation_id
        # The contact was told once, though the fallback's finish ran twice.
        assert await agent_texts(second, session.id) == [DEFAULT_ACKNOWLEDGEMENT]
    finally:
        if second is not None:
            await second.host.stop()
        await first.close()


@pytest.mark.parametrize("step", ["append", "resolve"])
async def test_a_contact_leaving_cut_short_by_a_killed_instance_is_finished_by_the_other(
    step: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    emulator, org = await new_emulator()
    first, second = await two_hosts(emulator, org)
    try:
        async with aiohttp.ClientSession() as http:
            rep = Rep(http, emulator.base_url, org)
            await rep.faults(no_agent=True)  # no rep takes it: the words go to the Case
            session = await chat_session(first)
            await first.host.handoff(session.id)
            chat = await live_chat(first, session.id)
            holder = await live_of(first).chats.lease_holder(chat.conversation_id)
            instances = {keeper_of(s).instance_id: s for s in (first, second)}
            dying = instances.pop(holder or keeper_of(first).instance_id)
            survivor = next(iter(instances.values()))
            words = "Actually, never mind: I found it."
            await dying.host.post_message(session.id, Role.CONTACT, words)
            await words_sent(live_of(dying), session.id, words)

            pause = Pause()
            if step == "append":
                cases = dying.runtime.cases
                monkeypatch.setattr(cases, "submit_append", pause.around(cases.submit_append))
            else:
                host = dying.host
                monkeypatch.setattr(host, "resolve_session", pause.around(host.resolve_session))
            leaving = asyncio.create_task(dying.host.contact_leaves(session.id))
            await pause.wait()

            # Killed between the steps: the hook's task gone, the stream's lease
            # left to lapse, the outbox's work given back.
            leaving.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await leaving
            await keeper_of(dying).stop(release=False)
            await dying.runtime.outbox.stop()
            assert await status(first, session.id) == SessionStatus.HANDED_OFF

            async def resolved() -> bool:
                return await status(survivor, session.id) == SessionStatus.RESOLVED

            await wait_for(resolved, timeout=10, what="the session resolved by the other")
            assert chat.case_id is not None
            assert await on_the_case(survivor, chat.case_id, words) == 1

            async def closed() -> bool:
                return bool((await rep.conversation(chat.conversation_id))["closed"])

            await wait_for(closed, timeout=10, what="the conversation closed")
            done = await live_of(survivor).chats.get(session.id)
            assert done is not None and done.state == "ended" and not done.ending
    finally:
        await second.host.stop()
        await first.close()
