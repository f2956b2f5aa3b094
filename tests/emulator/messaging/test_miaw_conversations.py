"""Conversations over HTTP: created with a client-made lowercase UUID and routing
attributes, routed to the queue, messages both ways, entries, close, the inbound
rate limit."""

from __future__ import annotations

import uuid

import pytest
from miaw_support import ATTRIBUTES, Agent, EndUser

from opencx_salesforce.emulator.app import Emulator
from opencx_salesforce.emulator.messaging.side import MessagingSide


@pytest.fixture
async def routed(end_user: EndUser, agent: Agent, side: MessagingSide) -> EndUser:
    """A guest with a conversation routed to the queue (not yet accepted)."""
    await end_user.guest()
    assert (await end_user.create(ATTRIBUTES)).status == 201
    await side.settle()
    return end_user


async def test_create_routes_a_session_with_the_routing_attributes(
    routed: EndUser, agent: Agent
) -> None:
    seen = await agent.conversation(routed.conversation_id)
    session = seen["session"]
    assert session["routingAttributes"] == ATTRIBUTES
    assert session["queue"] == "Chat Support"
    assert session["routed"] is True
    assert session["id"].startswith("0Mw")
    assert seen["endUser"] == {"subject": routed.subject, "name": "Ada Lovelace"}
    kinds = [entry["entryType"] for entry in seen["entries"]]
    assert kinds == ["RoutingResult", "SessionStatusChanged"]
    assert seen["entries"][0]["entryPayload"]["failureType"] == "None"


@pytest.mark.parametrize(
    "conversation_id",
    [str(uuid.uuid4()).upper(), "not-a-uuid", "", "{" + str(uuid.uuid4()) + "}"],
)
async def test_only_lowercase_uuids_name_conversations(
    end_user: EndUser, conversation_id: str
) -> None:
    await end_user.guest()
    end_user.conversation_id = conversation_id
    reply = await end_user.create(ATTRIBUTES)
    assert reply.status == 400
    assert "conversationId" in reply.body["message"]


async def test_create_checks_its_body(end_user: EndUser) -> None:
    await end_user.guest()
    number = await end_user.create({"_firstName": 42})
    assert number.status == 400  # routing attribute values are strings
    assert (await end_user.create(ATTRIBUTES)).status == 201
    assert (await end_user.create(ATTRIBUTES)).status == 409  # the same id again


async def test_messages_go_both_ways(routed: EndUser, agent: Agent) -> None:
    cid = routed.conversation_id
    assert (await agent.act(cid, "accept")).status == 200
    assert (await routed.send("Hi, my machine arrived broken")).status == 202
    sent = await agent.act(cid, "message", text="Sorry to hear that, Ada!")
    assert sent.status == 200

    listed = await routed.entries(direction="FromStart", entryTypeFilter="Message")
    assert listed.status == 200
    messages = listed.body["conversationEntries"]
    texts = [m["entryPayload"]["abstractMessage"]["staticContent"]["text"] for m in messages]
    assert texts == ["Hi, my machine arrived broken", "Sorry to hear that, Ada!"]
    assert [m["sender"]["role"] for m in messages] == ["EndUser", "Agent"]
    assert messages[1]["senderDisplayName"] == "Riley Rep"
    assert messages[1]["identifier"] == sent.body["identifier"]

    newest = await routed.entries(limit="1")
    assert [e["entryType"] for e in newest.body["conversationEntries"]] == ["Message"]
    assert (await routed.entries(limit="51")).status == 400


async def test_another_end_user_cannot_touch_the_conversation(routed: EndUser) -> None:
    other = EndUser(routed.http, routed.base_url, routed.org)
    await other.guest()
    other.conversation_id = routed.conversation_id
    assert (await other.send("hello?")).status == 403
    other.conversation_id = str(uuid.uuid4())
    assert (await other.send("hello?")).status == 404


async def test_inbound_messages_are_limited_to_22_a_minute(
    routed: EndUser, emulator: Emulator
) -> None:
    for number in range(22):
        assert (await routed.send(f"message {number}")).status == 202
    limited = await routed.send("one too many")
    assert limited.status == 429
    assert int(limited.headers["Retry-After"]) >= 1
    emulator.state.clock.advance(60)
    assert (await routed.send("a minute later")).status == 202


async def test_conversation_starts_are_limited_to_3_a_page_in_30_seconds(
    end_user: EndUser, emulator: Emulator
) -> None:
    """The limit: "Start Conversation: Maximum number of conversation start requests
    per 30 seconds. 3 per page per 30 seconds" [src: Help service.miaw_rate_limits.htm];
    one client (one access token) stands for the page; 429 is UNCONFIRMED."""
    await end_user.guest()
    for _ in range(3):
        end_user.conversation_id = str(uuid.uuid4())
        assert (await end_user.create(ATTRIBUTES)).status == 201
    end_user.conversation_id = str(uuid.uuid4())
    limited = await end_user.create(ATTRIBUTES)
    assert limited.status == 429
    assert 1 <= int(limited.headers["Retry-After"]) <= 30
    other = EndUser(end_user.http, end_user.base_url, end_user.org)
    await other.guest()
    assert (await other.create(ATTRIBUTES)).status == 201  # another page
    emulator.state.clock.advance(30)
    assert (await end_user.create(ATTRIBUTES)).status == 201


async def test_pages_that_started_nothing_lately_are_forgotten(
    side: MessagingSide, emulator: Emulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The record of starts by page does not grow for the emulator's life."""
    monkeypatch.setattr("opencx_salesforce.emulator.messaging.side.STARTS_KEPT", 5)
    for n in range(6):
        assert side.start_allowed(f"page-{n}") is None
    emulator.state.clock.advance(31)
    assert side.start_allowed("page-late") is None
    assert side.start_allowed("page-later") is None
    assert len(side._starts) == 2


async def test_the_end_user_closes_the_conversation(routed: EndUser, agent: Agent) -> None:
    await agent.act(routed.conversation_id, "accept")
    assert (await routed.close()).status == 204
    seen = await agent.conversation(routed.conversation_id)
    assert seen["closed"] is True
    assert seen["session"]["status"] == "Ended"
    assert seen["entries"][-1]["entryType"] == "CloseConversation"
    assert (await routed.send("anyone?")).status == 400
    refused = await agent.act(routed.conversation_id, "message", text="hello?")
    assert refused.status == 409


async def test_a_message_after_the_rep_ended_opens_a_new_session_without_prechat(
    routed: EndUser, agent: Agent, side: MessagingSide
) -> None:
    cid = routed.conversation_id
    await agent.act(cid, "accept")
    assert (await agent.act(cid, "end")).status == 200
    assert (await routed.send("one more thing")).status == 202
    await side.settle()
    seen = await agent.conversation(cid)
    assert seen["sessions"] == 2
    assert seen["session"]["routingAttributes"] == {}
    assert seen["session"]["status"] == "Waiting"


async def test_the_rep_transfers_to_another_queue(routed: EndUser, agent: Agent) -> None:
    cid = routed.conversation_id
    await agent.act(cid, "accept")
    assert (await agent.act(cid, "transfer", queue="Tier 2 Support")).status == 200
    seen = await agent.conversation(cid)
    assert seen["session"]["queue"] == "Tier 2 Support"
    assert seen["session"]["agent"] is None
    assert seen["entries"][-1]["entryPayload"]["routingType"] == "Transfer"
    again = await agent.act(cid, "accept", user="admin@acme.example")
    assert again.status == 200


async def test_no_rep_online_leaves_the_work_waiting(routed: EndUser, agent: Agent) -> None:
    assert (await agent.faults(no_agent=True)).status == 200
    refused = await agent.act(routed.conversation_id, "accept")
    assert refused.status == 409
    assert "no rep is online" in refused.body["error"]
    seen = await agent.conversation(routed.conversation_id)
    assert seen["session"]["status"] == "Waiting"
