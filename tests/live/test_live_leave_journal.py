"""The contact leaving survives a host that dies before the plugin took it.

The reference host journaled ``on_handoff`` and ``on_contact_reengage`` but
not ``on_contact_leave``: an instance stopped or killed between the leave and
the plugin's first write (the chat marked ended) lost it, the session left
handed off and the conversation open, with no rep told the contact was gone."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

import aiohttp
from live_stack import live_host, new_emulator
from live_support import Rep
from test_live_edges import status
from test_live_handoff import accepted, chat_session

from opencx_salesforce.devhost.journal import JOURNAL_NS
from opencx_salesforce.devhost.stack import Stack
from opencx_salesforce.devhost.waiting import wait_for
from opencx_salesforce.models import Role, SessionStatus
from opencx_salesforce.store import namespaces
from opencx_salesforce.store.memory import MemoryStore


class HeldLeave(MemoryStore):
    """The plugin's first write of a leave (the chat marked left) waits while
    ``hold`` is set: the host dies with the leave in its hands."""

    def __init__(self) -> None:
        super().__init__()
        self.hold: asyncio.Event | None = None
        self.entered = asyncio.Event()

    async def compare_and_set(self, ns: str, key: str, *args: Any, **kwargs: Any) -> bool:
        new = args[1] if len(args) > 1 else kwargs.get("new")
        if ns == namespaces.LIVE and self.hold is not None and b'"left": true' in (new or b""):
            self.entered.set()
            await self.hold.wait()
        return await super().compare_and_set(ns, key, *args, **kwargs)


async def test_a_leave_cut_short_before_the_plugin_took_it_is_made_at_the_next_start() -> None:
    emulator, org = await new_emulator()
    store = HeldLeave()
    first = await live_host(emulator, org, store=store)
    second: Stack | None = None
    try:
        async with aiohttp.ClientSession() as http:
            rep = Rep(http, emulator.base_url, org)
            session = await chat_session(first)
            await first.host.handoff(session.id)
            chat = await accepted(first, rep, session.id)

            store.hold = asyncio.Event()
            leaving = asyncio.create_task(first.host.contact_leaves(session.id))
            await asyncio.wait_for(store.entered.wait(), 5)
            # The host dies there: the hook call gone, the plugin's write never made.
            leaving.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await leaving
            store.hold = None
            await first.host.stop()
            assert await status(first, session.id) == SessionStatus.HANDED_OFF

            second = await live_host(emulator, org, store=store, connect=False)

            async def resolved() -> bool:
                assert second is not None
                return await status(second, session.id) == SessionStatus.RESOLVED

            await wait_for(resolved, timeout=10, what="the leave made again at the next start")

            async def closed() -> bool:
                return bool((await rep.conversation(chat.conversation_id))["closed"])

            await wait_for(closed, timeout=10, what="the conversation closed")
            assert await store.keys(JOURNAL_NS) == []  # crossed out once made
    finally:
        if second is not None:
            await second.host.stop()
        await first.close()


async def test_a_leave_in_the_journal_is_not_made_once_the_contact_wrote_again() -> None:
    emulator, org = await new_emulator()
    store = HeldLeave()
    first = await live_host(emulator, org, store=store)
    second: Stack | None = None
    try:
        async with aiohttp.ClientSession() as http:
            rep = Rep(http, emulator.base_url, org)
            session = await chat_session(first)
            await first.host.handoff(session.id)
            await accepted(first, rep, session.id)

            store.hold = asyncio.Event()
            leaving = asyncio.create_task(first.host.contact_leaves(session.id))
            await asyncio.wait_for(store.entered.wait(), 5)
            leaving.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await leaving
            store.hold = None
            # The contact came back before any instance made the leave again.
            await first.host.post_message(session.id, Role.CONTACT, "Sorry, still here!")
            await first.host.stop()

            second = await live_host(emulator, org, store=store, connect=False)
            assert await store.keys(JOURNAL_NS) == []  # looked at, and crossed out
            assert await status(second, session.id) == SessionStatus.HANDED_OFF
            live = second.runtime.live
            assert live is not None and await live.owns(session.id)
    finally:
        if second is not None:
            await second.host.stop()
        await first.close()
