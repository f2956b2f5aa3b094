"""The live path through the host contract and the emulator over HTTP: a chat
handoff becomes a Case with the transcript and a conversation routed with its
attributes; agent messages reach the contact once each, in order, through
stream drops and duplicates; the contact's messages reach the agent, none dropped
at the rate limit; the chat ends when the agent ends it or the contact leaves."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from live_stack import live_host, new_emulator
from live_support import Rep

from opencx_salesforce.devhost.stack import Stack
from opencx_salesforce.devhost.waiting import wait_for
from opencx_salesforce.live import streams
from opencx_salesforce.live.records import LiveChat
from opencx_salesforce.models import Contact, Role, Session, SessionStatus


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


async def chat_session(stack: Stack, **fields: Any) -> Session:
    session = await stack.host.create_session(
        channel=fields.pop("channel", "chat"),
        contact=Contact(name="Ada Lovelace", email="ada@example.com"),
        topic="Refund for order 4417",
        summary="Wants a refund for a damaged parcel; photos sent.",
        language=fields.pop("language", "en"),
        **fields,
    )
    await stack.host.post_message(session.id, Role.CONTACT, "My parcel arrived broken.")
    await stack.host.post_message(session.id, Role.BOT, "Sorry! Let me get a person.")
    return session


async def live_chat(stack: Stack, session_id: str, state: str = "waiting") -> LiveChat:
    live = stack.runtime.live
    assert live is not None

    async def reached() -> LiveChat | None:
        chat = await live.chats.get(session_id)
        return chat if chat is not None and chat.state == state else None

    found: LiveChat = await wait_for(reached, what=f"the live chat {state}")
    return found


async def accepted(stack: Stack, rep: Rep, session_id: str) -> LiveChat:
    chat = await live_chat(stack, session_id)

    async def routed() -> bool:
        return bool((await rep.conversation(chat.conversation_id))["session"]["routed"])

    await wait_for(routed, what="the work routed to the queue")
    await rep.act(chat.conversation_id, "accept")
    return await live_chat(stack, session_id, "active")


async def agent_texts(stack: Stack, session_id: str) -> list[str]:
    session = await stack.host.get_session(session_id)
    assert session is not None
    return [m.text for m in session.messages if m.role == Role.AGENT]


async def test_a_chat_handoff_creates_a_case_and_a_conversation_with_routing_attributes(
    stack: Stack, rep: Rep
) -> None:
    session = await chat_session(stack)
    await stack.host.handoff(session.id)
    chat = await live_chat(stack, session.id)

    case_id = chat.case_id
    assert case_id is not None and case_id.startswith("500")
    handed = await stack.host.get_session(session.id)
    assert handed is not None and handed.metadata["salesforce_case_id"] == case_id
    conversation = await rep.conversation(chat.conversation_id)
    assert conversation["session"]["routingAttributes"] == {
        "_firstName": "Ada",
        "_lastName": "Lovelace",
        "_email": "ada@example.com",
        "_subject": "Refund for order 4417",
        "OpencxSessionId": session.id,
        "OpencxChannel": "chat",
        "OpencxLanguage": "en",
        "OpencxSummary": "Wants a refund for a damaged parcel; photos sent.",
        "OpencxCaseId": case_id,
    }
    # One summary message, not the transcript: the transcript is on the Case.
    texts = [
        e["entryPayload"]["abstractMessage"]["staticContent"]["text"]
        for e in conversation["entries"]
        if e["entryType"] == "Message"
    ]
    assert len(texts) == 1 and f"Case {case_id}" in texts[0]
    assert chat.conversation_id == chat.conversation_id.lower()


async def test_an_email_handoff_stays_a_case(stack: Stack, rep: Rep) -> None:
    session = await chat_session(stack, channel="email")
    await stack.host.handoff(session.id)
    await stack.runtime.outbox.run_until_idle()
    live = stack.runtime.live
    assert live is not None
    assert await live.chats.get(session.id) is None
    assert (await stack.host.get_session(session.id)).metadata["salesforce_case_id"]  # type: ignore[union-attr]


@pytest.mark.parametrize("replay", [True, False], ids=["replay", "backfill"])
async def test_100_agent_messages_reach_the_contact_in_order_once_through_drops_and_duplicates(
    stack: Stack, rep: Rep, replay: bool
) -> None:
    session = await chat_session(stack)
    await stack.host.handoff(session.id)
    chat = await accepted(stack, rep, session.id)
    # Without the platform's replay (UNCONFIRMED), the missed entries come from
    # list-entries after each reconnect.
    await rep.faults(sse_drop_after=15, sse_drops=5, duplicate_rate=0.5, replay_on_resume=replay)
    await rep.drop_streams()  # the knobs act on the connections opened from now on
    for batch in range(10):
        for number in range(batch * 10, batch * 10 + 10):
            await rep.act(chat.conversation_id, "message", text=f"agent message {number:03}")

        async def arrived(count: int = batch * 10 + 10) -> list[str] | None:
            texts = await agent_texts(stack, session.id)
            return texts if len(texts) >= count else None

        texts = await wait_for(arrived, timeout=30, what=f"{batch * 10 + 10} agent messages")
    assert texts == [f"agent message {number:03}" for number in range(100)]
    assert (await rep.faults())["sse_drops"] == 0  # the stream was cut five times
    after = await stack.host.get_session(session.id)
    assert after is not None
    authors = {m.author for m in after.messages if m.role == Role.AGENT}
    assert len(authors) == 1 and authors != {"Agent"}  # the agent's own name
    # The contact's own summary message came back as an echo and was skipped.
    assert not any(t.startswith("[Handed over") for t in texts)


async def test_contact_messages_reach_the_agent_none_dropped_at_the_rate_limit(
    stack: Stack, rep: Rep
) -> None:
    session = await chat_session(stack)
    await stack.host.handoff(session.id)
    chat = await accepted(stack, rep, session.id)
    for number in range(30):
        await stack.host.post_message(session.id, Role.CONTACT, f"contact message {number:02}")

    async def inbound() -> list[str]:
        conversation = await rep.conversation(chat.conversation_id)
        return [
            e["entryPayload"]["abstractMessage"]["staticContent"]["text"]
            for e in conversation["entries"]
            if e["entryType"] == "Message" and e["sender"]["role"] == "EndUser"
        ][1:]  # after the summary

    # 22 a minute: the first 21 after the summary pass, the rest wait out the minute.
    first = await wait_for(lambda: _at_least(inbound, 21), what="the contact's first messages")
    assert first == [f"contact message {n:02}" for n in range(21)]
    stack.emulator.state.clock.advance(61)
    texts = await wait_for(lambda: _at_least(inbound, 30), timeout=30, what="every message")
    assert texts == [f"contact message {n:02}" for n in range(30)]


async def _at_least(read: Any, count: int) -> list[str] | None:
    texts: list[str] = await read()
    return texts if len(texts) >= count else None


async def test_the_agent_ending_the_session_resolves_it(stack: Stack, rep: Rep) -> None:
    session = await chat_session(stack)
    await stack.host.handoff(session.id)
    chat = await accepted(stack, rep, session.id)
    await rep.act(chat.conversation_id, "message", text="Refund issued. Anything else?")
    await rep.act(chat.conversation_id, "end")

    async def resolved() -> bool:
        found = await stack.host.get_session(session.id)
        return found is not None and found.status == SessionStatus.RESOLVED

    await wait_for(resolved, what="the session resolved")
    assert await agent_texts(stack, session.id) == ["Refund issued. Anything else?"]
    await live_chat(stack, session.id, "ended")
    assert (await rep.conversation(chat.conversation_id))["closed"]


async def test_words_written_as_the_agent_ends_the_chat_keep_the_case_going(
    stack: Stack, rep: Rep, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The agent ends the chat; before the plugin resolves the session (it first
    # closes the conversation), the contact writes again. The words went to the
    # Case and the session was resolved over them: unanswered, and out of every
    # rep's sight. The close is slowed so the words always come in that window.
    session = await chat_session(stack)
    await stack.host.handoff(session.id)
    chat = await accepted(stack, rep, session.id)
    live = stack.runtime.live
    assert live is not None
    close = live.inbound.close

    async def slow_close(ending: LiveChat) -> None:
        await asyncio.sleep(0.5)
        await close(ending)

    monkeypatch.setattr(live.inbound, "close", slow_close)
    await rep.act(chat.conversation_id, "end")
    await live_chat(stack, session.id, "ended")
    await stack.host.post_message(session.id, Role.CONTACT, "Wait, one more thing.")

    async def on_the_case() -> bool:
        records = await stack.runtime.client.query_records(
            f"SELECT CommentBody FROM CaseComment WHERE ParentId = '{chat.case_id}'"
        )
        return any("Wait, one more thing." in str(r["CommentBody"]) for r in records)

    await wait_for(on_the_case, what="the words on the Case")
    await asyncio.sleep(0.7)  # the end's close done, its resolution decided
    current = await stack.host.get_session(session.id)
    assert current is not None and current.status == SessionStatus.HANDED_OFF
    assert (await rep.conversation(chat.conversation_id))["closed"]


async def test_an_ended_chat_is_kept_a_while_then_forgotten(
    stack: Stack, rep: Rep, monkeypatch: pytest.MonkeyPatch
) -> None:
    session = await chat_session(stack)
    await stack.host.handoff(session.id)
    chat = await accepted(stack, rep, session.id)
    await rep.act(chat.conversation_id, "end")
    ended = await live_chat(stack, session.id, "ended")
    assert ended.ended_at > 0
    live = stack.runtime.live
    assert live is not None
    # Kept for KEEP_ENDED_SECONDS (a day) while queued sends may still need it;
    # with that at zero the stream keeper forgets it on its next look.
    monkeypatch.setattr(streams, "KEEP_ENDED_SECONDS", 0.0)
    live.keeper.wake()

    async def forgotten() -> bool:
        return await live.chats.get(session.id) is None

    await wait_for(forgotten, what="the ended chat gone from the store")
    # A message the contact writes now goes to the Case path (no chat owns it).
    assert not await live.owns(session.id)


async def test_hook_on_contact_leave(stack: Stack, rep: Rep) -> None:
    session = await chat_session(stack)
    await stack.host.handoff(session.id)
    chat = await accepted(stack, rep, session.id)
    await stack.host.contact_leaves(session.id)

    async def closed() -> bool:
        return bool((await rep.conversation(chat.conversation_id))["closed"])

    await wait_for(closed, what="the conversation closed")
    found = await stack.host.get_session(session.id)
    assert found is not None and found.status == SessionStatus.RESOLVED


async def test_words_left_unsent_when_the_contact_leaves_go_to_the_case_once_in_order(
    stack: Stack, rep: Rep
) -> None:
    # Every send job of a chat that was over put its message on the Case: the
    # ones an earlier job had sent into the conversation again, and the unsent
    # ones one comment each, in the order the jobs ran.
    session = await chat_session(stack)
    await stack.host.handoff(session.id)
    chat = await accepted(stack, rep, session.id)
    outbox = stack.runtime.outbox
    await outbox.stop()  # the jobs run when the test says
    seen = [f"Seen {n}." for n in range(3)]
    for text in seen:
        await stack.host.post_message(session.id, Role.CONTACT, text)
    assert await outbox.work_once()  # the first job sends all three; two jobs stay
    assert len((await live_chat(stack, session.id, "active")).sent) == 3
    unsent = [f"Unsent {n}." for n in range(4)]
    for text in unsent:
        await stack.host.post_message(session.id, Role.CONTACT, text)
    await stack.host.contact_leaves(session.id)
    outbox.start()
    await outbox.run_until_idle()

    records = await stack.runtime.client.query_records(
        f"SELECT CommentBody FROM CaseComment WHERE ParentId = '{chat.case_id}' "
        "ORDER BY CreatedDate"
    )
    bodies = [str(r["CommentBody"]) for r in records]
    assert not any("Seen" in b for b in bodies), bodies  # the agent had them
    [carried] = [b for b in bodies if "Unsent" in b]
    assert [line.split(": ", 1)[-1] for line in carried.splitlines() if "Unsent" in line] == unsent
    conversation = await rep.conversation(chat.conversation_id)
    texts = [
        e["entryPayload"]["abstractMessage"]["staticContent"]["text"]
        for e in conversation["entries"]
        if e["entryType"] == "Message"
    ]
    assert all(t in texts for t in seen) and not any(t in texts for t in unsent)


async def test_a_second_handoff_after_the_agent_ended_opens_a_new_conversation(
    stack: Stack, rep: Rep
) -> None:
    session = await chat_session(stack)
    await stack.host.handoff(session.id)
    first = await accepted(stack, rep, session.id)
    await rep.act(first.conversation_id, "end")
    await live_chat(stack, session.id, "ended")

    async def resolved() -> bool:
        found = await stack.host.get_session(session.id)
        return found is not None and found.status == SessionStatus.RESOLVED

    await wait_for(resolved, what="the first chat resolved")
    await stack.host.post_message(session.id, Role.CONTACT, "One more thing, sorry.")
    await stack.host.handoff(session.id)
    second = await live_chat(stack, session.id)
    assert second.conversation_id != first.conversation_id
    await accepted(stack, rep, session.id)
    await rep.act(second.conversation_id, "message", text="Back again? Sure.")
    await wait_for(
        lambda: _at_least(lambda: agent_texts(stack, session.id), 1), what="the new agent's reply"
    )


async def test_host_show_live_activity_is_told_queue_join_typing_and_leave(
    stack: Stack, rep: Rep
) -> None:
    seen: list[tuple[str, str]] = []

    async def show_live_activity(session_id: str, kind: str, detail: str) -> None:
        seen.append((kind, detail))

    # The optional addition to the host contract (hookspecs.LiveActivityHost).
    stack.host.show_live_activity = show_live_activity  # type: ignore[attr-defined]
    session = await chat_session(stack)
    await stack.host.handoff(session.id)
    chat = await accepted(stack, rep, session.id)
    await rep.act(chat.conversation_id, "typing", typing=True)
    await rep.act(chat.conversation_id, "message", text="Here you go.")
    await rep.act(chat.conversation_id, "end")
    await live_chat(stack, session.id, "ended")
    kinds = [kind for kind, _ in seen]
    assert kinds[0] == "queued"
    assert kinds[1:] == ["agent_joined", "typing_started", "typing_stopped", "agent_left"]
    names = {detail for kind, detail in seen if kind != "queued"}
    assert len(names) == 1 and names != {""}


async def test_the_stream_keeper_stops_when_woken_as_it_is_stopped(stack: Stack) -> None:
    """A wake and the stop at the same moment: on Python 3.11 asyncio.wait_for
    returned the wake and lost the cancellation (gh-86296), so the keeper looked
    on and stop() waited (a CI teardown stalled minutes on it)."""
    live = stack.runtime.live
    assert live is not None
    keeper = live.keeper
    running = keeper._task
    assert running is not None
    await wait_for(lambda: _idle(keeper), what="the keeper waiting for a wake")
    keeper.wake()
    started = asyncio.get_running_loop().time()
    await keeper.stop()
    assert running.done()
    assert asyncio.get_running_loop().time() - started < streams.STOP_TIMEOUT
    keeper.start()  # the fixture's teardown stops it again


async def _idle(keeper: streams.StreamKeeper) -> bool:
    await asyncio.sleep(0)
    return not keeper._wake.is_set()
