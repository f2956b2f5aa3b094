"""The rep ending a chat finishes once, whatever stops it half-way: a keeper
pass (each new handoff wakes one) cancelled the reader between the end's steps
and left the session handed off, the contact's unread words only in the chat
record (seen in a soak: 11 of 664). An end cut short by a stopped or killed
instance is finished by the next holder of the chat's lease."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from live_stack import live_host, new_emulator, two_hosts
from live_support import Rep
from test_live_edges import accepted_chat, on_the_case, status
from test_live_handoff import accepted, chat_session, live_chat

from opencx_salesforce.devhost.stack import Stack
from opencx_salesforce.devhost.waiting import wait_for
from opencx_salesforce.live.service import LiveService
from opencx_salesforce.live.streams import StreamKeeper
from opencx_salesforce.models import Role, SessionStatus


@pytest.fixture
async def stack() -> AsyncIterator[Stack]:
    emulator, org = await new_emulator()
    stack = await live_host(emulator, org)
    try:
        yield stack
    finally:
        await stack.close()


@pytest.fixture
async def rep(stack: Stack) -> AsyncIterator[Rep]:
    async with aiohttp.ClientSession() as http:
        yield Rep(http, stack.emulator.base_url, stack.org)


class Pause:
    """Holds a step of the end until ``go_on``; ``reached`` once it is there."""

    def __init__(self) -> None:
        self.reached, self.go_on = asyncio.Event(), asyncio.Event()
        self.calls = 0

    def around(self, step: Any) -> Any:
        async def paused(*args: Any, **kwargs: Any) -> Any:
            self.calls += 1
            self.reached.set()
            await self.go_on.wait()
            return await step(*args, **kwargs)

        return paused

    async def wait(self) -> None:
        await asyncio.wait_for(self.reached.wait(), 5)


def pause_at(stack: Stack, live: LiveService, step: str, monkeypatch: pytest.MonkeyPatch) -> Pause:
    """Pause the end at ``step``: its close of the conversation (the chat just
    marked ended) or the host's resolution (``resolving`` just set)."""
    pause = Pause()
    if step == "close":
        monkeypatch.setattr(live.inbound, "close", pause.around(live.inbound.close))
    else:
        monkeypatch.setattr(stack.host, "resolve_session", pause.around(stack.host.resolve_session))
    return pause


def hold_the_end(live: LiveService, monkeypatch: pytest.MonkeyPatch) -> Pause:
    """The end held before it begins: the contact's words sent meanwhile reach
    a conversation the rep has ended (no rep reads them)."""
    held = Pause()
    monkeypatch.setattr(live.inbound, "end", held.around(live.inbound.end))
    return held


async def words_sent(live: LiveService, session_id: str, words: str) -> None:
    async def sent() -> bool:
        chat = await live.chats.get(session_id)
        return chat is not None and any(m["text"] == words for m in chat.sent)

    await wait_for(sent, what="the words sent into the conversation")


async def finished(live: LiveService, session_id: str) -> None:
    async def done() -> bool:
        chat = await live.chats.get(session_id)
        return chat is not None and chat.state == "ended" and not chat.ending

    await wait_for(done, timeout=10, what="the end finished")


async def resolved(stack: Stack, session_id: str) -> None:
    async def done() -> bool:
        return await status(stack, session_id) == SessionStatus.RESOLVED

    await wait_for(done, timeout=10, what="the session resolved")


@pytest.mark.parametrize("step", ["close", "resolve"])
async def test_a_keeper_pass_during_the_end_leaves_it_to_finish(
    stack: Stack, rep: Rep, monkeypatch: pytest.MonkeyPatch, step: str
) -> None:
    session, chat, live = await accepted_chat(stack, rep)
    pause = pause_at(stack, live, step, monkeypatch)
    await rep.act(chat.conversation_id, "end")
    await pause.wait()

    await live.keeper.look_once()  # as a new handoff's wake brings it
    assert session.id in live.keeper.held  # the reader ending the chat goes on
    pause.go_on.set()

    await resolved(stack, session.id)
    await finished(live, session.id)
    assert (await rep.conversation(chat.conversation_id))["closed"]
    assert pause.calls == 1  # done by the reader, once: not cut and done again


async def test_words_no_rep_read_reach_the_case_through_a_keeper_pass_during_the_end(
    stack: Stack, rep: Rep, monkeypatch: pytest.MonkeyPatch
) -> None:
    session, chat, live = await accepted_chat(stack, rep)
    held, words = hold_the_end(live, monkeypatch), "Hello? Is anyone there?"
    pause = pause_at(stack, live, "close", monkeypatch)
    await rep.act(chat.conversation_id, "end")
    await held.wait()
    await stack.host.post_message(session.id, Role.CONTACT, words)
    await words_sent(live, session.id, words)
    held.go_on.set()
    await pause.wait()

    await live.keeper.look_once()
    pause.go_on.set()

    assert chat.case_id is not None
    assert await on_the_case(stack, chat.case_id, words) == 1
    await finished(live, session.id)
    # Not resolved over words no rep read: the Case carries on.
    assert await status(stack, session.id) == SessionStatus.HANDED_OFF


@pytest.mark.parametrize("words", [False, True])
async def test_an_end_cut_short_by_a_killed_instance_is_finished_by_the_other(
    words: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    emulator, org = await new_emulator()
    first, second = await two_hosts(emulator, org)
    try:
        async with aiohttp.ClientSession() as http:
            rep = Rep(http, emulator.base_url, org)
            session = await chat_session(first)
            await first.host.handoff(session.id)
            chat = await accepted(first, rep, session.id)
            instances = {keeper_of(s).instance_id: s for s in (first, second)}
            holder = await live_of(first).chats.lease_holder(chat.conversation_id)
            assert holder is not None
            dying = instances.pop(holder)
            dying_live = live_of(dying)
            survivor = next(iter(instances.values()))
            text = "Hello? Is anyone there?"
            held = hold_the_end(dying_live, monkeypatch)
            pause = pause_at(dying, dying_live, "close", monkeypatch)
            await rep.act(chat.conversation_id, "end")
            await held.wait()
            if words:
                await first.host.post_message(session.id, Role.CONTACT, text)
                await words_sent(dying_live, session.id, text)
            held.go_on.set()
            await pause.wait()

            # Killed between the end's steps: the chat ended in the store, the
            # conversation open, the session handed off, the lease left to lapse.
            await dying_live.keeper.stop(release=False)
            await live_chat(first, session.id, "ended")
            assert not (await rep.conversation(chat.conversation_id))["closed"]

            async def closed() -> bool:
                return bool((await rep.conversation(chat.conversation_id))["closed"])

            await wait_for(closed, timeout=10, what="the conversation closed by the other")
            if words:
                assert chat.case_id is not None
                assert await on_the_case(survivor, chat.case_id, text) == 1
                assert await status(first, session.id) == SessionStatus.HANDED_OFF
            else:
                await resolved(first, session.id)
            await finished(dying_live, session.id)
    finally:
        await second.host.stop()
        await first.close()


def live_of(stack: Stack) -> LiveService:
    live = stack.runtime.live
    assert live is not None
    return live


def keeper_of(stack: Stack) -> StreamKeeper:
    return live_of(stack).keeper
