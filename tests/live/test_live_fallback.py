"""When no agent can take a live chat: a routing failure, nobody in the queue in
time, or the chat's token refused. The Case made at handoff carries on, the
contact is told what happens next (in their language when a hook says it), and
what they wrote into the chat goes onto the Case. Also: the hooks that choose the
path and word the acknowledgement."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from live_stack import live_host, new_emulator
from live_support import Rep
from test_live_handoff import accepted, agent_texts, chat_session, live_chat

from opencx_salesforce.devhost.stack import Stack
from opencx_salesforce.devhost.waiting import wait_for
from opencx_salesforce.hookspecs import hookimpl
from opencx_salesforce.models import Role, Session, SessionStatus
from opencx_salesforce.settings.live import DEFAULT_ACKNOWLEDGEMENT, DEFAULT_INTERRUPTED


class French:
    """Speaks French to French speakers, and keeps VIPs off the live path."""

    @hookimpl
    def salesforce_live_acknowledgement(self, session: Session, reason: str) -> str | None:
        return f"Personne n'est disponible ({reason})." if session.language == "fr" else None

    @hookimpl
    def salesforce_live_path(self, session: Session) -> Any:
        # A path set on the session is answered as it is, right or wrong.
        return "case" if session.metadata.get("vip") else session.metadata.get("path")


async def _stack(**live: Any) -> Stack:
    emulator, org = await new_emulator()
    return await live_host(emulator, org, live=live, extra_plugins={"french": French()})


@pytest.fixture
async def stack() -> AsyncIterator[Stack]:
    stack = await _stack(queue_timeout_seconds=1.0)
    try:
        yield stack
    finally:
        await stack.close()


@pytest.fixture
async def rep(stack: Stack) -> AsyncIterator[Rep]:
    async with aiohttp.ClientSession() as http:
        yield Rep(http, stack.emulator.base_url, stack.org)


async def case_comments(stack: Stack, case_id: str) -> list[str]:
    records = await stack.runtime.client.query_records(
        f"SELECT CommentBody FROM CaseComment WHERE ParentId = '{case_id}'"
    )
    return [str(r["CommentBody"]) for r in records]


async def test_a_routing_failure_falls_back_to_the_case_with_an_acknowledgement(
    stack: Stack, rep: Rep
) -> None:
    await rep.faults(routing_failure="RoutingError")
    session = await chat_session(stack)
    await stack.host.handoff(session.id)
    chat = await live_chat(stack, session.id, "fallback")

    assert await agent_texts(stack, session.id) == [DEFAULT_ACKNOWLEDGEMENT]
    assert chat.case_id is not None
    assert any(
        "My parcel arrived broken." in body for body in await case_comments(stack, chat.case_id)
    )
    # Later words go onto the Case, not into the closed chat.
    await stack.host.post_message(session.id, Role.CONTACT, "Hello? Anyone there?")

    async def appended() -> bool:
        bodies = await case_comments(stack, chat.case_id or "")
        return any("Hello? Anyone there?" in body for body in bodies)

    await wait_for(appended, what="the later message on the Case")
    assert (await rep.conversation(chat.conversation_id))["closed"]


async def test_no_agent_in_time_falls_back_in_the_contacts_language(stack: Stack, rep: Rep) -> None:
    await rep.faults(no_agent=True)
    session = await chat_session(stack, language="fr")
    await stack.host.handoff(session.id)
    await live_chat(stack, session.id)
    await stack.host.post_message(session.id, Role.CONTACT, "Allô ?")
    chat = await live_chat(stack, session.id, "fallback")  # queue_timeout_seconds = 1

    assert await agent_texts(stack, session.id) == ["Personne n'est disponible (no_agent)."]

    async def on_case() -> bool:
        return any("Allô ?" in body for body in await case_comments(stack, chat.case_id or ""))

    await wait_for(on_case, what="the message sent into the chat, on the Case")


async def test_the_fallbacks_own_close_does_not_end_the_conversation(
    stack: Stack, rep: Rep, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The fallback closes the conversation first; the stream's ConversationClosed
    # for that close, handled before the fallback was done, read as the agent
    # ending the chat: the session was resolved just after the contact was told
    # a person would reply on the Case. The acknowledgement is slowed here, so
    # the close's event always comes first.
    deliver = stack.host.deliver_agent_message

    async def slow_acknowledgement(
        session_id: str, text: str, author: str, external_id: str | None = None
    ) -> None:
        if (external_id or "").startswith("live-fallback:"):
            await asyncio.sleep(0.5)
        await deliver(session_id, text, author, external_id)

    monkeypatch.setattr(stack.host, "deliver_agent_message", slow_acknowledgement)
    await rep.faults(no_agent=True)
    session = await chat_session(stack)
    await stack.host.handoff(session.id)
    await live_chat(stack, session.id, "fallback")  # queue_timeout_seconds = 1
    await asyncio.sleep(0.3)  # the close's event, handled by now
    current = await stack.host.get_session(session.id)
    assert current is not None and current.status == SessionStatus.HANDED_OFF
    assert await agent_texts(stack, session.id) == [DEFAULT_ACKNOWLEDGEMENT]


async def test_a_guests_expired_token_ends_the_chat_on_the_case(stack: Stack, rep: Rep) -> None:
    session = await chat_session(stack)
    await stack.host.handoff(session.id)
    chat = await accepted(stack, rep, session.id)
    # The guest token runs out (6 h on the emulator); a new guest token would be
    # a new end user [MIAW.md §2], so the chat cannot go on: the Case does.
    stack.emulator.state.clock.advance(7 * 3600)
    await rep.drop_streams()
    await live_chat(stack, session.id, "fallback")
    # An agent had taken it: not "no one could take this chat".
    assert await agent_texts(stack, session.id) == [DEFAULT_INTERRUPTED]
    assert chat.case_id


async def test_hook_salesforce_live_path(stack: Stack) -> None:
    session = await chat_session(stack, metadata={"vip": True})
    await stack.host.handoff(session.id)
    await stack.runtime.outbox.run_until_idle()
    live = stack.runtime.live
    assert live is not None
    assert await live.chats.get(session.id) is None  # a chat, yet a Case only
    found = await stack.host.get_session(session.id)
    assert found is not None and found.metadata["salesforce_case_id"]


async def test_a_wrong_live_path_answer_is_logged_and_the_channel_decides(
    stack: Stack, caplog: pytest.LogCaptureFixture
) -> None:
    # Raised to the host, the wrong answer lost the handoff: no Case, no chat,
    # nothing queued, while the contact had been told a person would come.
    session = await chat_session(stack, metadata={"path": "agent"})
    await stack.host.handoff(session.id)
    await stack.runtime.outbox.run_until_idle()
    live = stack.runtime.live
    assert live is not None
    chat = await live.chats.get(session.id)
    assert chat is not None, "the chat channel is live: the channel setting decided"
    found = await stack.host.get_session(session.id)
    assert found is not None and found.metadata["salesforce_case_id"]
    logged = [r for r in caplog.records if "salesforce_live_path failed" in r.getMessage()]
    assert len(logged) == 1 and logged[0].exc_info is not None, "the wrong answer is logged"
    assert str(logged[0].exc_info[1]) == (
        "plugin 'french': its answer: expected 'live', 'case' or None, got 'agent'"
    )


async def test_hook_salesforce_live_acknowledgement(stack: Stack, rep: Rep) -> None:
    await rep.faults(routing_failure="SubmissionError")
    session = await chat_session(stack, language="fr")
    await stack.host.handoff(session.id)
    await live_chat(stack, session.id, "fallback")
    assert await agent_texts(stack, session.id) == ["Personne n'est disponible (routing_failed)."]
