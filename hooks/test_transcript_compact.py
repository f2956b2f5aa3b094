"""transcript_compact: the Case's comments carry the compact transcript, end to
end (reference host -> Salesforce plugin -> emulated org over HTTP)."""

from __future__ import annotations

import asyncio
from datetime import timedelta, timezone
from typing import Any

from transcript_compact import CompactTranscript, pack_lines

from opencx_salesforce import Contact, Role
from opencx_salesforce.devhost.stack import Stack
from opencx_salesforce.emulator.pytest_plugin import Handoff, StartStack

CONVERSATION = [
    (Role.CONTACT, "My parcel never arrived."),
    (Role.BOT, "I'm sorry to hear that.\nLet me check the tracking."),
    (Role.CONTACT, "It says delivered, but it is not here."),
]
CASE_COMMENT_MAX_BYTES = 4000


async def start_conversation(
    stack: Stack, conversation: list[tuple[Role, str]]
) -> tuple[str, list[Any]]:
    session = await stack.host.create_session(
        topic="Missing parcel", contact=Contact(name="Jane Doe", email="jane@example.com")
    )
    for role, text in conversation:
        await stack.host.post_message(session.id, role, text)
    stored = await stack.host.get_session(session.id)
    assert stored is not None
    return session.id, stored.messages


def bodies_on(stack: Stack, case_id: str) -> list[str]:
    rows = [r for r in stack.org.rows("CaseComment", False) if r["ParentId"] == case_id]
    rows.sort(key=lambda r: (r["CreatedDate"], r["Id"]))
    return [str(r["CommentBody"]) for r in rows]


def without_title(body: str) -> str:
    """The plugin puts a title line and a blank line above each body."""
    title, rendered = body.split("\n\n", 1)
    assert "conversation" in title.lower()
    return rendered


async def test_the_case_gets_one_line_per_message(
    salesforce_stack: StartStack, salesforce_handoff: Handoff
) -> None:
    stack = await salesforce_stack(plugins={"compact-transcript": CompactTranscript()})
    session_id, messages = await start_conversation(stack, CONVERSATION)

    case = await salesforce_handoff(stack, session_id)

    at = [f"{m.created_at:%H:%M}" for m in messages]
    [body] = bodies_on(stack, case["Id"])
    assert session_id in body.split("\n", 1)[0]
    assert without_title(body) == (
        f"{at[0]} Jane Doe: My parcel never arrived.\n"
        f"{at[1]} Bot: I'm sorry to hear that. Let me check the tracking.\n"
        f"{at[2]} Jane Doe: It says delivered, but it is not here."
    )


async def test_bot_messages_can_be_left_out_and_times_shown_in_a_zone(
    salesforce_stack: StartStack, salesforce_handoff: Handoff
) -> None:
    plus_two = timezone(timedelta(hours=2))
    plugin = CompactTranscript(include_bot=False, timezone=plus_two)
    stack = await salesforce_stack(plugins={"compact-transcript": plugin})
    session_id, messages = await start_conversation(stack, CONVERSATION)

    case = await salesforce_handoff(stack, session_id)

    at = [f"{m.created_at.astimezone(plus_two):%H:%M}" for m in messages]
    [body] = bodies_on(stack, case["Id"])
    assert without_title(body) == (
        f"{at[0]} Jane Doe: My parcel never arrived.\n"
        f"{at[2]} Jane Doe: It says delivered, but it is not here."
    )
    assert "tracking" not in body


async def test_hook_salesforce_transcript_packs_a_long_transcript_within_the_limit(
    salesforce_stack: StartStack, salesforce_handoff: Handoff
) -> None:
    stack = await salesforce_stack(plugins={"compact-transcript": CompactTranscript()})
    conversation = [
        (Role.CONTACT if n % 2 == 0 else Role.BOT, f"message {n}: " + "é ö 日本 " * 12)
        for n in range(150)
    ]
    session_id, _ = await start_conversation(stack, conversation)

    case = await salesforce_handoff(stack, session_id)

    bodies = bodies_on(stack, case["Id"])
    assert len(bodies) > 1
    assert all(len(b.encode("utf-8")) <= CASE_COMMENT_MAX_BYTES for b in bodies)
    lines = [line for b in bodies for line in without_title(b).split("\n")]
    # Every message whole, on its own line, in order.
    assert [line.split(": ", 1)[1] for line in lines] == [
        " ".join(text.split()) for _, text in conversation
    ]


async def test_messages_after_the_handoff_are_appended_compactly(
    salesforce_stack: StartStack, salesforce_handoff: Handoff
) -> None:
    stack = await salesforce_stack(plugins={"compact-transcript": CompactTranscript()})
    session_id, _ = await start_conversation(stack, CONVERSATION)
    case = await salesforce_handoff(stack, session_id)

    later = await stack.host.post_message(session_id, Role.CONTACT, "Any news?\nStill waiting.")

    for _ in range(500):
        bodies = bodies_on(stack, case["Id"])
        if len(bodies) == 2:
            break
        await asyncio.sleep(0.02)
    assert len(bodies) == 2, "the new message was not appended"
    assert (
        without_title(bodies[1]) == f"{later.created_at:%H:%M} Jane Doe: Any news? Still waiting."
    )


def test_pack_lines_fills_each_body_up_to_the_budget() -> None:
    assert pack_lines(["aaaa", "bbbb", "cccc"], budget_bytes=9) == ["aaaa\nbbbb", "cccc"]
    assert pack_lines(["a" * 20, "b"], budget_bytes=9) == ["a" * 20, "b"]
    assert pack_lines(["€€€", "x"], budget_bytes=10) == ["€€€", "x"]  # € is 3 bytes
    assert pack_lines([], budget_bytes=9) == []
