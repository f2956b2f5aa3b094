"""Chats an older release left stuck (the rep's end cut halfway before endings
were marked in the store: the chat ended, the session handed off, the
contact's unread words only in the chat record) are found at the next start:
the words go onto the Case, once, and the Case carries on. One without unread
words is only logged: it cannot be told from a session handed off again."""

from __future__ import annotations

import logging
import time
from typing import Any

import aiohttp
import pytest
from live_stack import live_host, new_emulator
from live_support import Rep
from test_live_edges import on_the_case, status
from test_live_end import hold_the_end, live_of, words_sent
from test_live_handoff import accepted, chat_session

from opencx_salesforce.devhost.stack import Stack
from opencx_salesforce.devhost.waiting import wait_for
from opencx_salesforce.live.records import NS
from opencx_salesforce.models import Role, SessionStatus
from opencx_salesforce.store.base import Store
from opencx_salesforce.store.cells import update_json
from opencx_salesforce.store.memory import MemoryStore

# What this release writes in a chat record and an older one did not.
NEWER_FIELDS = (
    "ending",
    "close_at_end",
    "left",
    "end_failures",
    "end_retry_at",
    "end_error",
    "fallback_reason",
)


async def as_an_older_release_left_it(store: Store, session_id: str) -> None:
    """The chat record of an end cut after its first step, before endings were
    marked: ended, nothing more."""

    def change(current: Any) -> Any:
        old = {k: v for k, v in current.items() if k not in NEWER_FIELDS}
        return {**old, "state": "ended", "ended_at": time.time()}

    await update_json(store, NS, f"chat:{session_id}", change)


async def test_words_an_older_release_left_in_an_ended_chat_reach_the_case_at_start(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="opencx_salesforce.live")
    emulator, org = await new_emulator()
    store = MemoryStore()
    older = await live_host(emulator, org, store=store)
    newer: Stack | None = None
    try:
        async with aiohttp.ClientSession() as http:
            rep = Rep(http, emulator.base_url, org)
            quiet = await chat_session(older)
            await older.host.handoff(quiet.id)
            quiet_chat = await accepted(older, rep, quiet.id)
            session = await chat_session(older)
            await older.host.handoff(session.id)
            chat = await accepted(older, rep, session.id)
            live = live_of(older)
            held = hold_the_end(live, monkeypatch)
            await rep.act(chat.conversation_id, "end")
            await held.wait()
            words = "Hello? Is anyone there?"
            await older.host.post_message(session.id, Role.CONTACT, words)
            await words_sent(live, session.id, words)
            await rep.act(quiet_chat.conversation_id, "end")
            await older.host.stop()  # its ends cut short, as an older release left them
            for stuck in (session.id, quiet.id):
                await as_an_older_release_left_it(store, stuck)

            newer = await live_host(emulator, org, store=store, connect=False)
            assert chat.case_id is not None
            assert await on_the_case(newer, chat.case_id, words) == 1

            async def finished() -> bool:
                now = await live_of(newer).chats.get(session.id)
                return now is not None and now.wrote_after_end and not now.ending

            await wait_for(finished, timeout=10, what="the end finished")
            # Words no rep read: not resolved over them, the Case carries on.
            assert await status(newer, session.id) == SessionStatus.HANDED_OFF
            assert (await rep.conversation(chat.conversation_id))["closed"]
            # No unread words: left as it is, and said.
            assert await status(newer, quiet.id) == SessionStatus.HANDED_OFF
            left = await live_of(newer).chats.get(quiet.id)
            assert left is not None and not left.ending and not left.resolving
            assert any(
                quiet.id in r.getMessage() and "left as it is" in r.getMessage()
                for r in caplog.records
            )
    finally:
        if newer is not None:
            await newer.host.stop()
        await older.close()
