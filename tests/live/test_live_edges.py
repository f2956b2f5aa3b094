"""A live chat's edges, where a contact's words were lost: a message sent as
the rep ends the chat, a chat Messaging refuses to start, the contact leaving
while the chat starts or waits for a rep. Whatever no rep read goes onto the
Case, once, and a session is not resolved over it."""

from __future__ import annotations

import asyncio
import contextlib
from asyncio import Event
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import aiohttp
import pytest
from live_stack import live_host, new_emulator
from live_support import Rep
from test_live_fallback import French, case_comments
from test_live_handoff import accepted, agent_texts, chat_session, live_chat

from opencx_salesforce.devhost.stack import Stack
from opencx_salesforce.devhost.waiting import WaitTimedOut, wait_for
from opencx_salesforce.emulator.messaging.deployment import DEFAULT_DEPLOYMENT
from opencx_salesforce.live.errors import BadRequest
from opencx_salesforce.live.records import LiveChat
from opencx_salesforce.live.service import LiveService
from opencx_salesforce.models import Role, Session, SessionStatus
from opencx_salesforce.store.base import ItemState


@pytest.fixture
async def stack() -> AsyncIterator[Stack]:
    emulator, org = await new_emulator()
    stack = await live_host(emulator, org, extra_plugins={"french": French()})
    try:
        yield stack
    finally:
        await stack.close()


@pytest.fixture
async def rep(stack: Stack) -> AsyncIterator[Rep]:
    async with aiohttp.ClientSession() as http:
        yield Rep(http, stack.emulator.base_url, stack.org)


async def on_the_case(stack: Stack, case_id: str, text: str) -> int:
    """How many of the Case's comments carry ``text``, once it is there and the
    outbox has settled (0 if it never comes)."""

    async def count() -> int:
        return sum(text in body for body in await case_comments(stack, case_id))

    with contextlib.suppress(WaitTimedOut):
        await wait_for(count, what=f"{text!r} on the Case", timeout=3.0)
    await stack.runtime.outbox.run_until_idle()
    return await count()


async def status(stack: Stack, session_id: str) -> SessionStatus:
    session = await stack.host.get_session(session_id)
    assert session is not None
    return session.status


async def no_dead_letters(stack: Stack) -> None:
    dead = await stack.runtime.outbox.items(ItemState.DEAD)
    assert not dead, [(d.item_id, d.last_error) for d in dead]


async def accepted_chat(stack: Stack, rep: Rep) -> tuple[Session, LiveChat, LiveService]:
    """A chat session handed off and accepted by the rep; the live service."""
    session = await chat_session(stack)
    await stack.host.handoff(session.id)
    chat = await accepted(stack, rep, session.id)
    live = stack.runtime.live
    assert live is not None
    return session, chat, live


def held_token(live: LiveService, monkeypatch: pytest.MonkeyPatch) -> tuple[Event, Event]:
    """The chat's token request, held: ``asked`` is set once it is under way,
    and it goes on when ``go_on`` is set."""
    asked, go_on = asyncio.Event(), asyncio.Event()
    first = live.tokens.first

    async def slow_token(*args: Any, **kwargs: Any) -> Any:
        asked.set()
        await go_on.wait()
        return await first(*args, **kwargs)

    monkeypatch.setattr(live.tokens, "first", slow_token)
    return asked, go_on


def before_sending(
    live: LiveService,
    monkeypatch: pytest.MonkeyPatch,
    text: str,
    act: Callable[[], Awaitable[None]],
) -> None:
    """``act`` runs before the chat's send of ``text`` (raising, it is the send's
    error); other texts are sent as they are."""
    send = live.scrt.send_message

    async def sending(
        token: str, conversation_id: str, sent: str, *, message_id: str | None = None
    ) -> str:
        if sent == text:
            await act()
        return await send(token, conversation_id, sent, message_id=message_id)

    monkeypatch.setattr(live.scrt, "send_message", sending)


async def test_words_sent_as_the_rep_ends_the_chat_reach_the_case_once(
    stack: Stack, rep: Rep, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The send job read the chat open; the rep ended it and the plugin closed
    # the conversation before the send arrived: Messaging answered 400, the
    # job became a dead letter, and the session was resolved over the words.
    session, chat, live = await accepted_chat(stack, rep)
    words = "Wait, one more thing."

    async def end_first() -> None:
        await rep.act(chat.conversation_id, "end")

        async def closed() -> bool:
            return bool((await rep.conversation(chat.conversation_id))["closed"])

        await wait_for(closed, what="the plugin's close of the ended chat")

    before_sending(live, monkeypatch, words, end_first)
    await stack.host.post_message(session.id, Role.CONTACT, words)
    await live_chat(stack, session.id, "ended")

    assert chat.case_id is not None
    assert await on_the_case(stack, chat.case_id, words) == 1
    await no_dead_letters(stack)
    assert await status(stack, session.id) == SessionStatus.HANDED_OFF


async def test_words_that_reach_a_chat_the_rep_has_ended_reach_the_case(
    stack: Stack, rep: Rep, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The rep ends the session; before the plugin hears of it, the contact's
    # message reaches the conversation, which opens a new session without the
    # chat's routing [MIAW.md §5], and the plugin's close then ends that one:
    # no rep ever saw the words.
    session, chat, live = await accepted_chat(stack, rep)
    heard, go_on = asyncio.Event(), asyncio.Event()
    end = live.inbound.end

    async def end_heard_late(session_id: str, **kwargs: Any) -> None:
        heard.set()
        await go_on.wait()
        await end(session_id, **kwargs)

    monkeypatch.setattr(live.inbound, "end", end_heard_late)
    await rep.act(chat.conversation_id, "end")
    await asyncio.wait_for(heard.wait(), 5)
    words = "Are you still there?"
    await stack.host.post_message(session.id, Role.CONTACT, words)

    async def sent() -> bool:
        current = await live.chats.get(session.id)
        return current is not None and any(m["text"] == words for m in current.sent)

    await wait_for(sent, what="the words sent into the ended session's conversation")
    go_on.set()
    await live_chat(stack, session.id, "ended")

    assert chat.case_id is not None
    assert await on_the_case(stack, chat.case_id, words) == 1
    assert await status(stack, session.id) == SessionStatus.HANDED_OFF
    # Words sent before the rep ended it were read in the chat: not carried.
    assert await on_the_case(stack, chat.case_id, "Refund") == 0


async def test_a_chat_messaging_refuses_to_start_falls_back_to_the_case(
    stack: Stack, rep: Rep
) -> None:
    # A deployment that is not a Custom Client: the token request is refused
    # (400). The start job became a dead letter, the chat stayed "starting",
    # every later word waited for it (157 retries and counting), and the
    # contact was told nothing.
    await rep.deployment(apiName=DEFAULT_DEPLOYMENT, deploymentType="web")
    session = await chat_session(stack, language="fr")
    await stack.host.handoff(session.id)
    await stack.host.post_message(session.id, Role.CONTACT, "Allô ?")
    chat = await live_chat(stack, session.id, "fallback")

    assert await agent_texts(stack, session.id) == ["Personne n'est disponible (start_refused)."]
    assert chat.state == "fallback"
    ref = await stack.runtime.index.session_case(session.id)  # made at handoff
    assert ref is not None
    assert await on_the_case(stack, ref.case_id, "Allô ?") == 1
    await no_dead_letters(stack)
    assert await status(stack, session.id) == SessionStatus.HANDED_OFF


async def test_a_chat_the_contact_leaves_while_it_starts_is_closed(
    stack: Stack, rep: Rep, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The contact left while the token was being asked for: the close job
    # found no token and did nothing, the start job went on, and the
    # conversation waited in the queue, offered to reps, for nobody.
    live = stack.runtime.live
    assert live is not None
    asked, go_on = held_token(live, monkeypatch)
    session = await chat_session(stack)
    await stack.host.handoff(session.id)
    await asyncio.wait_for(asked.wait(), 5)
    await stack.host.contact_leaves(session.id)
    go_on.set()

    async def started() -> bool:
        return not await stack.runtime.outbox.pending("live_start:")

    await wait_for(started, what="the start job done")
    chat = await live.chats.get(session.id)
    assert chat is not None and chat.state == "ended"
    conversation = await rep.conversation(chat.conversation_id)  # made once the token came
    assert conversation["closed"]
    assert await status(stack, session.id) == SessionStatus.RESOLVED
    await no_dead_letters(stack)


async def test_words_written_to_a_waiting_chat_the_contact_leaves_reach_the_case(
    stack: Stack, rep: Rep
) -> None:
    # Nobody had taken the chat: the words went into the conversation, which
    # the contact's leaving closed. No rep read them, and the Case did not
    # carry them.
    await rep.faults(no_agent=True)
    session = await chat_session(stack)
    await stack.host.handoff(session.id)
    await live_chat(stack, session.id)
    live = stack.runtime.live
    assert live is not None
    lines = [f"Waiting line {n}." for n in range(3)]
    for text in lines:
        await stack.host.post_message(session.id, Role.CONTACT, text)

    async def all_sent() -> bool:
        chat = await live.chats.get(session.id)
        return chat is not None and len(chat.sent) == len(lines)

    await wait_for(all_sent, what="the words sent into the waiting chat")
    await stack.host.contact_leaves(session.id)
    chat = await live_chat(stack, session.id, "ended")

    assert chat.case_id is not None
    for text in lines:
        assert await on_the_case(stack, chat.case_id, text) == 1
    assert await status(stack, session.id) == SessionStatus.RESOLVED


async def test_a_message_messaging_refuses_goes_to_the_case_and_the_others_go_on(
    stack: Stack, rep: Rep, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A 400 for one message (its text, say) while the chat is open: the
    # message headed the chat's queue for good, and every later message of
    # the chat failed behind it, each a dead letter.
    session, chat, live = await accepted_chat(stack, rep)
    refused = "A message Messaging will not take."

    async def refuse() -> None:
        raise BadRequest("HTTP 400: the message is refused", status=400)

    before_sending(live, monkeypatch, refused, refuse)
    after = ["And this one?", "Hello?"]
    for text in (refused, *after):
        await stack.host.post_message(session.id, Role.CONTACT, text)

    async def delivered() -> bool:
        conversation = await rep.conversation(chat.conversation_id)
        texts = [
            e["entryPayload"]["abstractMessage"]["staticContent"]["text"]
            for e in conversation["entries"]
            if e["entryType"] == "Message"
        ]
        return all(t in texts for t in after) and refused not in texts

    await wait_for(delivered, what="the later messages in the chat")
    assert chat.case_id is not None
    assert await on_the_case(stack, chat.case_id, refused) == 1
    await no_dead_letters(stack)
    current = await live.chats.get(session.id)
    assert current is not None and current.state == "active" and not current.outgoing


async def test_status_json_counts_a_starting_chat_as_the_page_does(
    stack: Stack, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A chat Messaging had not started yet was in no count ("Open live chats"
    # left out "starting"), and status.json had no Live Messaging facts at all.
    live = stack.runtime.live
    assert live is not None
    asked, go_on = held_token(live, monkeypatch)
    session = await chat_session(stack)
    await stack.host.handoff(session.id)
    await asyncio.wait_for(asked.wait(), 5)
    token = stack.host.settings.admin_token.get_secret_value()
    async with (
        aiohttp.ClientSession() as http,
        http.get(
            f"{stack.host_url}/integrations/salesforce/admin/status.json",
            headers={"Authorization": f"Bearer {token}"},
        ) as answer,
    ):
        assert answer.status == 200
        facts = (await answer.json())["live"]
    go_on.set()
    assert facts["configured"] is True
    assert (facts["starting"], facts["waiting"], facts["active"]) == (1, 0, 0)
    assert facts["open_chats"] == 1
    assert facts["deployment"] == DEFAULT_DEPLOYMENT
    await live_chat(stack, session.id)  # it goes on to wait for a rep
