"""What the Messaging side answers, checked against Salesforce's own material: the
documented StaticContentMessage payload, the entries and senders as the official
sample app records them off the wire, the guest subject, the conversation-start
rate limit.

Sources:
- [payload] StaticContentMessage, https://developer.salesforce.com/docs/service/
  messaging-api/references/about/message-types-payloads-staticcontentmessage.md
- [sample] official sample app Salesforce-Async-Messaging/messaging-web-api-sample-app,
  ``src/example.json`` (entries as its ``createConversationEntry`` keeps them: the
  stream's ``conversationEntry.sender`` and ``entryPayload`` as they came)
- [participant] ConversationParticipant.AppType, object reference: "messaging,
  chatbot, live_message, agent"
"""

from __future__ import annotations

from typing import Any

import pytest
from miaw_support import ATTRIBUTES, Agent, EndUser, wait_for_event

from opencx_salesforce.emulator.messaging.side import MessagingSide


def _by_type(entries: list[dict[str, Any]], entry_type: str) -> list[dict[str, Any]]:
    return [entry for entry in entries if entry["entryType"] == entry_type]


@pytest.fixture
async def working(end_user: EndUser, agent: Agent, side: MessagingSide) -> EndUser:
    """A guest whose conversation a rep has accepted."""
    await end_user.guest()
    assert (await end_user.create(ATTRIBUTES)).status == 201
    await side.settle()
    assert (await agent.act(end_user.conversation_id, "accept")).status == 200
    return end_user


async def test_a_text_message_entry_is_the_documented_payload(
    working: EndUser, agent: Agent
) -> None:
    """[payload]: ``{"entryType": "Message", "id", "abstractMessage": {"messageType",
    "inReplyToMessageId", "id", "references": [], "staticContent": {"formatType",
    "text"}}, "messageReason"}``, the three ids one."""
    cid = working.conversation_id
    sent = await agent.act(cid, "message", text="Which order is it?")
    question = sent.body["identifier"]
    assert (await working.send("Order 4417", in_reply_to=question)).status == 202

    listed = await working.entries(direction="FromStart", entryTypeFilter="Message")
    rep, reply = listed.body["conversationEntries"]
    for entry in (rep, reply):
        payload = entry["entryPayload"]
        message = payload["abstractMessage"]
        assert payload["entryType"] == "Message"
        assert payload["id"] == message["id"] == entry["identifier"]
        assert message["references"] == []
        assert "messageReason" in payload
    assert rep["identifier"] == question
    assert rep["entryPayload"]["abstractMessage"]["inReplyToMessageId"] is None
    # The send's optional message.inReplyToMessageId [src: sample sendTextMessage]
    # is kept on the entry.
    assert reply["entryPayload"]["abstractMessage"]["inReplyToMessageId"] == question


async def test_every_entry_payload_carries_the_entry_id(working: EndUser, agent: Agent) -> None:
    """[sample]: the payload's ``id`` is the entry's ``identifier`` (RoutingResult,
    ParticipantChanged and Message alike)."""
    await agent.act(working.conversation_id, "end")
    listed = await working.entries(direction="FromStart", limit="50")
    entries = listed.body["conversationEntries"]
    kinds = {entry["entryType"] for entry in entries}
    assert {"RoutingResult", "ParticipantChanged", "SessionStatusChanged"} <= kinds
    for entry in entries:
        assert entry["entryPayload"]["id"] == entry["identifier"], entry["entryType"]


async def test_typing_indicator_payload_carries_the_entry_id(
    working: EndUser, agent: Agent
) -> None:
    stream = await working.open_stream()
    await agent.act(working.conversation_id, "typing", typing=True)
    typing = await wait_for_event(stream, "CONVERSATION_TYPING_STARTED_INDICATOR")
    assert typing.payload["id"] == typing.entry["identifier"]
    stream.release()


async def test_senders_carry_their_app_type(working: EndUser, agent: Agent) -> None:
    """[sample]: ``sender`` is ``{"role", "appType", "subject", "clientIdentifier"}``;
    ``appType`` ``iamessage`` for the end user, ``conversation`` for System;
    ``agent`` for a rep [participant]."""
    await agent.act(working.conversation_id, "message", text="Hello")
    await working.send("Hi")
    listed = await working.entries(direction="FromStart", limit="50")
    entries = listed.body["conversationEntries"]
    senders = {entry["sender"]["role"]: entry["sender"] for entry in entries}
    assert senders["EndUser"]["appType"] == "iamessage"
    assert senders["EndUser"]["subject"] == working.subject
    assert senders["Agent"]["appType"] == "agent"
    assert senders["System"]["appType"] == "conversation"
    for sender in senders.values():
        assert sender["clientIdentifier"] == ""


async def test_routing_and_participant_entries_come_from_system(
    working: EndUser, agent: Agent
) -> None:
    """[sample]: RoutingResult and ParticipantChanged are sent by ``System`` (a
    User Id subject, "Platform Integration User"); a routed RoutingResult has
    ``failureReason: ""``, ``pendingServiceRoutingId``, ``isExternallyRouted`` and
    ``routingConfigurationDetails.routingConfigurationType``."""
    listed = await working.entries(direction="FromStart", limit="50")
    entries = listed.body["conversationEntries"]
    (routing,) = _by_type(entries, "RoutingResult")
    (joined,) = _by_type(entries, "ParticipantChanged")
    for entry in (routing, joined):
        assert entry["sender"]["role"] == "System"
        assert entry["sender"]["subject"].startswith("005")
        assert entry["senderDisplayName"] == "Platform Integration User"
    payload = routing["entryPayload"]
    assert payload["failureType"] == "None"
    assert payload["failureReason"] == ""
    assert payload["pendingServiceRoutingId"].startswith("0JR")
    # Record Ids in the payload are 15-character, as in the sample.
    assert payload["recordId"].startswith("0Mw") and len(payload["recordId"]) == 15
    assert len(payload["pendingServiceRoutingId"]) == 15
    assert payload["isExternallyRouted"] is False
    details = payload["routingConfigurationDetails"]
    assert details["routingConfigurationType"] == "QueueRoutingType"
    assert details["queueId"].startswith("00G")
    # The participant who joined is still the rep.
    participant = joined["entryPayload"]["entries"][0]["participant"]
    assert participant["role"] == "Agent"
    assert participant["appType"] == "agent"


async def test_the_stream_echo_has_the_documented_payload(working: EndUser) -> None:
    stream = await working.open_stream()
    assert (await working.send("Hi")).status == 202
    echo = await wait_for_event(stream, "CONVERSATION_MESSAGE")
    message = echo.payload["abstractMessage"]
    assert echo.payload["id"] == message["id"] == echo.entry["identifier"]
    assert message["references"] == [] and message["inReplyToMessageId"] is None
    stream.release()
