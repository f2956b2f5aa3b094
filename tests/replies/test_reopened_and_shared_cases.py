"""Two edges of a Case's life an outside check found words lost or misrouted at:
a Case a rep reopens after its closing resolved the conversation, and a Case two
conversations of one contact share.

Through the real paths: the package deployed in the emulated org rings the
host's webhook, the rep works the Case over the emulator's HTTP rep API, what
the contact sees is read from the reference host's session."""

from __future__ import annotations

from replies_support import (
    World,
    act,
    agent_messages,
    case_of,
    handed_off,
    idle,
    settled,
    wait_for,
)

from opencx_salesforce.emulator.package.runtime import ApexRuntime
from opencx_salesforce.models import Role, SessionStatus


def bodies_on(world: World, case_id: str) -> list[str]:
    comments = world.org.records.get("CaseComment", {}).values()
    return [str(c["CommentBody"]) for c in comments if c["ParentId"] == case_id]


async def status_of(world: World, session_id: str) -> SessionStatus:
    session = await world.node.host.get_session(session_id)
    assert session is not None
    return session.status


async def test_words_written_after_the_case_closed_reach_it_once_reopened_and_handed_off_again(
    world: World, apex: ApexRuntime
) -> None:
    """The Case closes (the conversation is resolved), the rep reopens it and
    asks a question; the contact answers the bot, which hands off again. The
    answer was taken for a duplicate handoff's and never written anywhere."""
    session = await handed_off(world.node)
    case_id = await case_of(world.node, session.id)
    await act(world, case_id, "close")
    await settled(world, apex)
    assert await status_of(world, session.id) == SessionStatus.RESOLVED

    await act(world, case_id, "reopen")
    await act(world, case_id, "reply", text="Sorry, what is your order number?")
    await settled(world, apex)
    host = world.node.host
    await host.post_message(session.id, Role.CONTACT, "It is order 12345.")
    await host.post_message(session.id, Role.BOT, "Thanks, I will pass that on.")
    await host.handoff(session.id)

    async def answered() -> bool:
        return any("order 12345" in body for body in bodies_on(world, case_id))

    await wait_for(answered, what="the contact's answer on the reopened Case")
    await idle(world)
    bodies = bodies_on(world, case_id)
    assert sum("order 12345" in body for body in bodies) == 1
    assert sum("I will pass that on" in body for body in bodies) == 1
    # The rep's own question is not written back to the Case as the contact's.
    assert sum("what is your order number" in body for body in bodies) == 1
    assert len({c["ParentId"] for c in world.org.records["CaseComment"].values()}) == 1
    assert await case_of(world.node, session.id) == case_id
    # Handed off to the same Case again: the next words are appended there.
    await host.post_message(session.id, Role.CONTACT, "Any news?")

    async def appended() -> bool:
        return any("Any news?" in body for body in bodies_on(world, case_id))

    await wait_for(appended, what="the next message on the reopened Case")


async def test_a_reply_on_a_shared_case_goes_to_the_conversation_the_contact_wrote_in_last(
    world: World, apex: ApexRuntime
) -> None:
    """The same contact handed off twice while the Case was open: the second
    conversation joins the Case. The reply went to the one that joined last,
    though the contact had gone back to the first and wrote there."""
    first = await handed_off(world.node, email="same@example.com")
    case_id = await case_of(world.node, first.id)
    second = await handed_off(world.node, email="same@example.com")
    assert await case_of(world.node, second.id) == case_id
    host = world.node.host
    await host.post_message(second.id, Role.CONTACT, "Writing from my phone.")
    await host.post_message(first.id, Role.CONTACT, "Back on my laptop now.")
    await settled(world, apex)

    reply = (await act(world, case_id, "reply", text="Your parcel ships today."))["id"]
    await settled(world, apex)
    assert [record for _, _, record in await agent_messages(world.node, first.id)] == [reply]
    assert await agent_messages(world.node, second.id) == []
