"""The contact's words at a live chat's end land on the Case once each.

A review found two ways they were lost: an ending run again (after a stop, a
kill or a failure) that found more words in the chat than its first attempt
submitted them under the same append id as before (the first message's), so
the outbox took them for the append already queued and the later words never
reached the Case; and a send in flight as the contact left, landing in the
conversation after the end and recorded in the chat only, where no one reads
it."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

import aiohttp
import pytest
from live_stack import live_host, new_emulator
from live_support import Rep
from test_live_edges import accepted_chat, on_the_case, status
from test_live_end import Pause, live_of, words_sent
from test_live_handoff import chat_session, live_chat

from opencx_salesforce.devhost.stack import Stack
from opencx_salesforce.devhost.waiting import wait_for
from opencx_salesforce.live.service import LiveService
from opencx_salesforce.models import Role, SessionStatus
from opencx_salesforce.store.memory import MemoryStore


def send_in_flight(live: LiveService, words: str, monkeypatch: pytest.MonkeyPatch) -> Pause:
    """The send of ``words`` reaches the conversation and its answer is held
    (``reached`` then) until ``go_on``: a send in flight, as the plugin sees it."""
    held = Pause()
    send = live.scrt.send_message

    async def sending(token: str, conversation_id: str, text: str, **kwargs: Any) -> Any:
        answer = await send(token, conversation_id, text, **kwargs)
        if text == words:
            held.calls += 1
            held.reached.set()
            await held.go_on.wait()
        return answer

    monkeypatch.setattr(live.scrt, "send_message", sending)
    return held


async def test_an_ending_run_again_that_finds_more_words_puts_each_on_the_case_once(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    emulator, org = await new_emulator()
    store = MemoryStore()
    first = await live_host(emulator, org, store=store)
    second: Stack | None = None
    try:
        async with aiohttp.ClientSession() as http:
            await Rep(http, emulator.base_url, org).faults(no_agent=True)
        session = await chat_session(first)
        await first.host.handoff(session.id)
        chat = await live_chat(first, session.id)
        live = live_of(first)
        early, late = "I waited ten minutes already.", "Is anyone there at all?"
        await first.host.post_message(session.id, Role.CONTACT, early)
        await words_sent(live, session.id, early)
        held = send_in_flight(live, late, monkeypatch)
        await first.host.post_message(session.id, Role.CONTACT, late)
        await held.wait()  # the later words are in the conversation, not yet in the chat

        # The contact leaves; the ending's first attempt puts what the chat says
        # was sent (the early words) on the Case, and is cut before it resolves.
        pause = Pause()
        monkeypatch.setattr(first.host, "resolve_session", pause.around(first.host.resolve_session))
        leaving = asyncio.create_task(first.host.contact_leaves(session.id))
        await pause.wait()
        held.go_on.set()
        await words_sent(live, session.id, late)  # now the chat says both were sent
        leaving.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await leaving
        await first.host.stop()  # the graceful stop of a rolling deploy

        # The next instance runs the ending again: it finds both words sent.
        second = await live_host(emulator, org, store=store, connect=False)

        async def resolved() -> bool:
            assert second is not None
            return await status(second, session.id) == SessionStatus.RESOLVED

        await wait_for(resolved, timeout=15, what="the ending finished by the next instance")
        assert chat.case_id is not None
        assert await on_the_case(second, chat.case_id, early) == 1
        assert await on_the_case(second, chat.case_id, late) == 1
    finally:
        if second is not None:
            await second.host.stop()
        await first.close()


async def test_words_queued_as_the_rep_ended_reach_the_case_once_whichever_job_asks_first(
    stack: Stack, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The rep's end put the first word left unsent on the Case; the second,
    # queued for the chat as it ended, was asked for with the first by every
    # send job: the same first message, the same append, and it was dropped.
    async with aiohttp.ClientSession() as http:
        rep = Rep(http, stack.emulator.base_url, stack.org)
        session, chat, live = await accepted_chat(stack, rep)
        outbox = stack.runtime.outbox
        await outbox.stop()  # the send jobs run when the test says
        first, second = "Can I get a refund?", "Or a new parcel, either is fine."
        await stack.host.post_message(session.id, Role.CONTACT, first)
        queuing = Pause()
        add = live.chats.add_outgoing

        async def add_outgoing(session_id: str, message: dict[str, Any]) -> None:
            if message.get("text") == second:
                await queuing.around(add)(session_id, message)
            else:
                await add(session_id, message)

        monkeypatch.setattr(live.chats, "add_outgoing", add_outgoing)
        writing = asyncio.create_task(stack.host.post_message(session.id, Role.CONTACT, second))
        await queuing.wait()  # the chat still took it: it joins its queue next

        await rep.act(chat.conversation_id, "end")

        async def ended() -> bool:
            found = await live.chats.get(session.id)
            return found is not None and found.state == "ended" and not found.ending

        await wait_for(ended, what="the rep's end finished")
        queuing.go_on.set()
        await writing
        outbox.start()
        await outbox.run_until_idle()
        assert chat.case_id is not None
        assert await on_the_case(stack, chat.case_id, first) == 1
        assert await on_the_case(stack, chat.case_id, second) == 1


@pytest.fixture
async def stack() -> Any:
    emulator, org = await new_emulator()
    stack = await live_host(emulator, org)
    try:
        yield stack
    finally:
        await stack.close()


async def test_words_whose_send_was_in_flight_as_the_contact_left_reach_the_case_once(
    stack: Stack, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with aiohttp.ClientSession() as http:
        rep = Rep(http, stack.emulator.base_url, stack.org)
        session, chat, live = await accepted_chat(stack, rep)
        words = "Oh, and the box was wet too."
        held = send_in_flight(live, words, monkeypatch)
        await stack.host.post_message(session.id, Role.CONTACT, words)
        await held.wait()  # in the conversation; the plugin has not recorded it

        await stack.host.contact_leaves(session.id)  # the ending is done at once
        assert await status(stack, session.id) == SessionStatus.RESOLVED

        async def closed() -> bool:
            return bool((await rep.conversation(chat.conversation_id))["closed"])

        await wait_for(closed, what="the conversation closed")
        held.go_on.set()  # the send's answer comes: the chat ended meanwhile
        await words_sent(live, session.id, words)
        assert chat.case_id is not None
        assert await on_the_case(stack, chat.case_id, words) == 1
        # Run again, the send job changes nothing.
        await stack.runtime.outbox.run_until_idle()
        assert await on_the_case(stack, chat.case_id, words) == 1


async def test_words_whose_send_was_in_flight_as_the_chat_fell_back_reach_the_case_once(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    emulator, org = await new_emulator()
    stack = await live_host(emulator, org, live={"queue_timeout_seconds": 1.0})
    try:
        async with aiohttp.ClientSession() as http:
            await Rep(http, emulator.base_url, org).faults(no_agent=True)
        session = await chat_session(stack)
        await stack.host.handoff(session.id)
        chat = await live_chat(stack, session.id)
        live = live_of(stack)
        words = "Hello? My order number is 4417."
        held = send_in_flight(live, words, monkeypatch)
        await stack.host.post_message(session.id, Role.CONTACT, words)
        await held.wait()

        # No rep came: the fallback closes the conversation and puts what was
        # sent on the Case, without these words, whose send has not answered.
        await live_chat(stack, session.id, "fallback")
        held.go_on.set()
        await words_sent(live, session.id, words)
        assert chat.case_id is not None
        assert await on_the_case(stack, chat.case_id, words) == 1
    finally:
        await stack.close()
