"""The event stream over HTTP: documented event shapes in order with increasing
ids, resume with Last-Event-Id after the emulator cuts the stream, duplicated
events, heartbeats, the rep ending the session, routing failures."""

from __future__ import annotations

import json
import time

from miaw_support import ATTRIBUTES, Agent, EndUser, read_events, wait_for_event

from opencx_salesforce.emulator.messaging.side import MessagingSide


async def test_the_stream_carries_the_conversation_in_order(
    end_user: EndUser, agent: Agent
) -> None:
    await end_user.guest()
    stream = await end_user.open_stream()
    assert stream.status == 200
    assert stream.headers["Content-Type"].startswith("text/event-stream")
    await end_user.create(ATTRIBUTES)
    routing = await wait_for_event(stream, "CONVERSATION_ROUTING_RESULT")
    assert routing.payload["failureType"] == "None"
    assert routing.payload["routingType"] == "Initial"

    cid = end_user.conversation_id
    await agent.act(cid, "accept")
    await agent.act(cid, "typing", typing=True)
    await agent.act(cid, "message", text="Hi Ada, Riley here.")
    await end_user.send("Thanks!")
    events = await read_events(stream, 6)
    assert [e.event for e in events] == [
        "CONVERSATION_SESSION_STATUS_CHANGED",  # Waiting
        "CONVERSATION_PARTICIPANT_CHANGED",  # the rep joins
        "CONVERSATION_SESSION_STATUS_CHANGED",  # Active
        "CONVERSATION_TYPING_STARTED_INDICATOR",
        "CONVERSATION_TYPING_STOPPED_INDICATOR",  # sending stops the typing
        "CONVERSATION_MESSAGE",
    ]
    ids = [int(e.id or 0) for e in [routing, *events]]
    assert ids == sorted(ids) and len(set(ids)) == len(ids)
    data = events[5].json
    assert data["channelType"] == "embedded_messaging"
    assert data["conversationId"] == cid
    assert data["channelAddressIdentifier"]
    message = events[5].entry
    assert message["sender"]["role"] == "Agent"
    assert message["senderDisplayName"] == "Riley Rep"
    assert isinstance(message["entryPayload"], str)  # a JSON string in the stream
    assert events[5].payload["abstractMessage"]["staticContent"]["text"] == "Hi Ada, Riley here."
    joined = events[1].payload["entries"][0]
    assert joined["operation"] == "add" and joined["displayName"] == "Riley Rep"
    assert events[2].payload["sessionStatus"] == "Active"
    echo = (await read_events(stream, 1))[0]
    assert echo.entry["sender"]["role"] == "EndUser"  # the end user's own message echoes
    stream.release()


async def test_a_cut_stream_resumes_from_last_event_id(
    end_user: EndUser, agent: Agent, side: MessagingSide
) -> None:
    await end_user.guest()
    await end_user.create(ATTRIBUTES)
    await side.settle()
    cid = end_user.conversation_id
    await agent.act(cid, "accept")
    assert (await agent.faults(sse_drop_after=4, sse_drops=3)).status == 200
    for number in range(10):
        await agent.act(cid, "message", text=f"agent {number}")

    seen: list[str] = []
    last = end_user.last_event_id
    connections = 0
    while len(seen) < 10:
        stream = await end_user.open_stream(last)
        connections += 1
        while len(seen) < 10:
            got = await read_events(stream, 1)
            if not got:
                break  # cut: reconnect from the last id seen
            last = got[0].id or last
            if got[0].event == "CONVERSATION_MESSAGE":
                seen.append(got[0].payload["abstractMessage"]["staticContent"]["text"])
        stream.release()
    assert seen == [f"agent {number}" for number in range(10)]
    assert connections == 4  # cut three times after 4 events, then it stays open


async def test_the_duplicates_knob_sends_events_twice_with_the_same_id(
    end_user: EndUser, agent: Agent, side: MessagingSide
) -> None:
    await end_user.guest()
    await agent.faults(duplicate_rate=1.0)
    stream = await end_user.open_stream()
    await end_user.create(ATTRIBUTES)
    events = await read_events(stream, 4)
    assert [e.event for e in events] == [
        "CONVERSATION_ROUTING_RESULT",
        "CONVERSATION_ROUTING_RESULT",
        "CONVERSATION_SESSION_STATUS_CHANGED",
        "CONVERSATION_SESSION_STATUS_CHANGED",
    ]
    assert events[0].id == events[1].id and events[2].id == events[3].id
    stream.release()


async def test_an_idle_stream_gets_heartbeats(end_user: EndUser, side: MessagingSide) -> None:
    side.heartbeat_seconds = 0.05
    await end_user.guest()
    stream = await end_user.open_stream()
    pings = await read_events(stream, 2, pings=True)
    assert [(p.event, p.data, p.id) for p in pings] == [("ping", "0", None)] * 2
    stream.release()


async def test_the_stream_needs_its_headers(end_user: EndUser) -> None:
    no_token = await end_user.open_stream()
    assert no_token.status == 401
    no_token.release()
    await end_user.guest()
    async with end_user.http.get(
        end_user.base_url + "/eventrouter/v1/sse", headers=end_user.auth
    ) as no_org:
        assert no_org.status == 400  # X-Org-Id missing


async def test_the_rep_ending_the_session_changes_its_status(
    end_user: EndUser, agent: Agent, side: MessagingSide
) -> None:
    await end_user.guest()
    await end_user.create(ATTRIBUTES)
    await side.settle()
    await agent.act(end_user.conversation_id, "accept")
    stream = await end_user.open_stream(str(side.events.last_id))
    assert (await agent.act(end_user.conversation_id, "end")).status == 200
    left, ended = await read_events(stream, 2)
    assert left.event == "CONVERSATION_PARTICIPANT_CHANGED"
    assert left.payload["entries"][0]["operation"] == "remove"
    assert ended.event == "CONVERSATION_SESSION_STATUS_CHANGED"
    assert ended.payload["sessionStatus"] == "Ended"
    # Not the end user's close event: that "only triggers when the end user closes".
    await end_user.close()
    closed = await read_events(stream, 1)
    assert closed[0].event == "CONVERSATION_CLOSE_CONVERSATION"
    stream.release()


async def test_a_routing_failure_reaches_the_stream(end_user: EndUser, agent: Agent) -> None:
    await agent.faults(routing_failure="RoutingError")
    await end_user.guest()
    stream = await end_user.open_stream()
    await end_user.create(ATTRIBUTES)
    result = await wait_for_event(stream, "CONVERSATION_ROUTING_RESULT")
    assert result.payload["failureType"] == "RoutingError"
    assert result.payload["failureReason"]
    refused = await agent.act(end_user.conversation_id, "accept")
    assert refused.status == 409
    stream.release()


async def test_slow_routing_answers_create_before_the_routing_result(
    end_user: EndUser, agent: Agent
) -> None:
    await agent.faults(routing_delay=2.0)
    await end_user.guest()
    stream = await end_user.open_stream()
    assert (await end_user.create(ATTRIBUTES)).status == 201
    before = await agent.conversation(end_user.conversation_id)
    assert before["session"]["routed"] is False and before["entries"] == []
    result = await wait_for_event(stream, "CONVERSATION_ROUTING_RESULT")
    assert json.loads(result.data)["conversationId"] == end_user.conversation_id
    stream.release()


async def test_without_replay_a_client_backfills_with_list_entries(
    end_user: EndUser, agent: Agent, side: MessagingSide
) -> None:
    await end_user.guest()
    await end_user.create(ATTRIBUTES)
    await side.settle()
    await agent.act(end_user.conversation_id, "accept")
    await agent.faults(replay_on_resume=False)
    await agent.act(end_user.conversation_id, "message", text="sent while away")
    stream = await end_user.open_stream("1")
    await agent.act(end_user.conversation_id, "message", text="sent after reconnect")
    live = await read_events(stream, 1)
    assert live[0].payload["abstractMessage"]["staticContent"]["text"] == "sent after reconnect"
    listed = await end_user.entries(entryTypeFilter="Message", direction="FromStart")
    texts = [
        e["entryPayload"]["abstractMessage"]["staticContent"]["text"]
        for e in listed.body["conversationEntries"]
    ]
    assert texts == ["sent while away", "sent after reconnect"]
    stream.release()


async def test_the_latency_knob_delays_scrt_calls_by_a_round_trip_and_events_by_half(
    end_user: EndUser, agent: Agent
) -> None:
    rtt = 0.4
    assert (await agent.faults(latency_ms=rtt * 1000)).body["latency_ms"] == rtt * 1000
    started = time.perf_counter()
    await end_user.guest()  # known by the orgId of its body
    assert time.perf_counter() - started >= rtt
    stream = await end_user.open_stream()
    started = time.perf_counter()
    await end_user.create(ATTRIBUTES)  # known by its token
    assert time.perf_counter() - started >= rtt
    await wait_for_event(stream, "CONVERSATION_ROUTING_RESULT")
    cid = end_user.conversation_id
    await agent.act(cid, "accept")  # the rep's console is inside Salesforce: no delay
    await read_events(stream, 3)
    sent = time.perf_counter()
    for number in range(3):
        await agent.act(cid, "message", text=f"burst {number}")
    burst = await read_events(stream, 3)
    arrived = time.perf_counter() - sent
    assert [e.payload["abstractMessage"]["staticContent"]["text"] for e in burst] == [
        f"burst {number}" for number in range(3)
    ]
    # Half a round trip after it happened, the burst together, not one after another.
    assert rtt / 2 <= arrived < 3 * rtt / 2 - 0.05  # one after another: 3 × rtt / 2
    stream.release()
