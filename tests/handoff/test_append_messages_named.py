"""An append is known by exactly the messages it carries. It was known by its
first message only: a hook call with the same first message and more words
after it (a host that retried a call with the next message joined, say) was
taken for the append already made, and the later words never reached the
Case. The same messages given again (a host replaying its call) still land
once."""

from __future__ import annotations

from handoff_support import case_id_of, comments_of, converse

from opencx_salesforce.devhost.stack import Stack
from opencx_salesforce.devhost.waiting import wait_for
from opencx_salesforce.models import Message, Role, Session


def on_the_case(stack: Stack, case_id: str, text: str) -> int:
    return sum(text in str(c["CommentBody"]) for c in comments_of(stack, case_id))


async def reengage(stack: Stack, session_id: str, messages: list[Message]) -> None:
    """The host's hook call, as a host gives it (the session saved with them)."""
    saved = await stack.host.get_session(session_id)
    assert saved is not None
    session = Session.model_validate(
        {**saved.model_dump(), "messages": [*saved.messages, *messages]}
    )
    await stack.plugin.on_contact_reengage(session, messages)
    await stack.runtime.outbox.run_until_idle()


async def test_more_words_after_the_same_first_message_reach_the_case(stack: Stack) -> None:
    session = await converse(stack.host, texts=["Where is my parcel?"])
    await stack.host.handoff(session.id)
    case_id = await case_id_of(stack.host, session.id)
    first = Message(id="m_first", role=Role.CONTACT, text="It was due on Monday.")
    second = Message(id="m_second", role=Role.CONTACT, text="Tracking says it is in Leeds.")

    await reengage(stack, session.id, [first, second])

    async def appended() -> bool:
        return on_the_case(stack, case_id, second.text) > 0

    await wait_for(appended, what="the append")
    await reengage(stack, session.id, [first, second])  # the host replays its call
    assert on_the_case(stack, case_id, first.text) == 1
    assert on_the_case(stack, case_id, second.text) == 1

    third = Message(id="m_third", role=Role.CONTACT, text="Leeds is not my city.")
    await reengage(stack, session.id, [first, second, third])
    assert on_the_case(stack, case_id, third.text) == 1
