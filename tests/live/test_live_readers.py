"""The stream keeper forgets each chat's reader once its task is over: it kept
every one until it stopped (about 1 KB a finished task, 2 KB a cancelled one,
its frames kept), and a newer reader of the same chat is left in place."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import aiohttp
import pytest
from live_stack import live_host, new_emulator
from live_support import Rep
from test_live_edges import accepted_chat
from test_live_handoff import live_chat

from opencx_salesforce.devhost.stack import Stack
from opencx_salesforce.devhost.waiting import wait_for
from opencx_salesforce.live.streams import StreamKeeper


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


def keeper_of(stack: Stack) -> StreamKeeper:
    live = stack.runtime.live
    assert live is not None
    return live.keeper


async def test_the_keeper_forgets_the_readers_of_chats_that_ended(stack: Stack, rep: Rep) -> None:
    keeper = keeper_of(stack)
    sessions = []
    for number in range(4):
        session, chat, _ = await accepted_chat(stack, rep)
        if number % 2:
            await rep.act(chat.conversation_id, "end")  # the reader finishes
        else:
            await stack.host.contact_leaves(session.id)  # the reader is stopped
        await live_chat(stack, session.id, "ended")
        sessions.append(session.id)
    keeper.wake()

    async def forgotten() -> bool:
        await keeper.look_once()
        return not set(sessions) & set(keeper._readers)

    await wait_for(forgotten, what="the ended chats' readers forgotten")
    assert keeper.held == []


async def test_a_reader_that_ends_leaves_a_newer_one_of_its_chat(stack: Stack) -> None:
    keeper = keeper_of(stack)
    go_on = asyncio.Event()

    async def older(session_id: str, reader: object) -> None:
        await go_on.wait()

    async def newer(session_id: str, reader: object) -> None:
        await asyncio.Event().wait()  # reads on (stopped by the fixture)

    keeper._begin("s-race", older)
    first = keeper._readers["s-race"]
    keeper._begin("s-race", newer)  # the chat's reader again, as its lease was taken back
    go_on.set()
    await first.task
    await asyncio.sleep(0)  # the older one's done callback has run
    assert keeper.held == ["s-race"] and keeper._readers["s-race"] is not first
