"""The webhook route refuses what does not come from the org's Named Credential
or does not follow the contract, and a refused call changes nothing.

Over real HTTP to the reference host, with the emulator as the org.
"""

from __future__ import annotations

import logging
import time

import pytest
from replies_support import (
    SECRET,
    Rep,
    World,
    WorldFactory,
    agent_messages,
    case_of,
    event_body,
    handed_off,
    post,
    ring,
    wait_for,
)

from opencx_salesforce.apex import contract
from opencx_salesforce.log_throttle import LogThrottle
from opencx_salesforce.replies import webhook


async def _case_with_reply(world: World) -> tuple[str, str, str]:
    session = await handed_off(world.node)
    case_id = await case_of(world.node, session.id)
    comment_id = Rep(world.org).comment(case_id, "We are on it.")
    return session.id, case_id, comment_id


async def test_forged_calls_are_refused_and_deliver_nothing(world: World) -> None:
    session_id, case_id, comment_id = await _case_with_reply(world)
    node = world.node
    body = event_body(world.org, contract.EVENT_CASE_COMMENT_CREATED, case_id, comment_id)
    wrong_token = node.webhook_url.rsplit("/", 1)[0] + "/not-the-token"
    calls_before, jobs_before = world.api_calls(), len(await node.runtime.outbox.items())

    answers = [
        await post(world.http, wrong_token, body),
        await post(world.http, node.webhook_url, body, secret="whsec_someone_else_000000"),
        await post(world.http, node.webhook_url, body, secret=None),  # unsigned
        await post(world.http, node.webhook_url, body, timestamp=str(int(time.time()) - 3600)),
        await post(world.http, node.webhook_url, body, timestamp="soon"),
    ]

    assert [a.status for a in answers] == [401] * 5
    assert answers[0].body == {"error": "unauthorized"}  # nothing about the rest
    assert answers[1].body == {"error": "unauthorized: signature"}
    assert answers[3].body == {"error": "unauthorized: timestamp"}
    assert len(await node.runtime.outbox.items()) == jobs_before  # nothing queued
    assert world.api_calls() == calls_before  # nothing read
    assert await agent_messages(node, session_id) == []
    refused = node.runtime.reply_status.webhooks_refused
    assert refused["401 token"] == 1 and refused["401 signature"] == 2
    assert refused["401 timestamp"] == 2


async def test_a_signature_over_a_different_body_is_refused(world: World) -> None:
    _, case_id, comment_id = await _case_with_reply(world)
    stamp = str(int(time.time()))
    signed = event_body(world.org, contract.EVENT_CASE_COMMENT_CREATED, case_id, comment_id)
    other = event_body(world.org, contract.EVENT_CASE_UPDATED, case_id, case_id)
    answer = await post(
        world.http,
        world.node.webhook_url,
        other,
        timestamp=stamp,
        signature=contract.sign(SECRET, stamp, signed),
    )
    assert answer.status == 401


async def test_malformed_bodies_are_400_with_the_reason(world: World) -> None:
    _, case_id, _ = await _case_with_reply(world)
    url = world.node.webhook_url
    jobs_before = len(await world.node.runtime.outbox.items())
    cases = {
        b"{not json": "body is not JSON",
        b"[]": "body must be a JSON object",
        b'{"event": "case.updated"}': "missing field(s)",
        event_body(world.org, "case.exploded", case_id, case_id): "unknown event",
        event_body(world.org, contract.EVENT_CASE_UPDATED, "001000000000001AAA", None): "caseId",
    }
    for body, reason in cases.items():
        answer = await post(world.http, url, body)
        assert answer.status == 400, body
        assert reason in answer.body["error"], (body, answer.body)
    assert len(await world.node.runtime.outbox.items()) == jobs_before


async def test_a_body_over_the_limit_is_413_whatever_content_length_says(world: World) -> None:
    url = world.node.webhook_url
    limit = world.node.runtime.settings.webhook_max_body_bytes
    big = b'{"event": "ping", "pad": "' + b"x" * limit + b'"}'

    honest = await post(world.http, url, big)
    assert honest.status == 413

    async def stream() -> object:
        # Chunked: no Content-Length at all; the route must count while reading.
        for start in range(0, len(big), 4096):
            yield big[start : start + 4096]

    stamp = str(int(time.time()))
    async with world.http.post(
        url,
        data=stream(),
        headers={
            "Content-Type": "application/json",
            contract.HEADER_TIMESTAMP: stamp,
            contract.HEADER_SIGNATURE: contract.sign(SECRET, stamp, big),
        },
    ) as response:
        assert response.status == 413
    assert world.node.runtime.reply_status.webhooks_refused["413 too large"] == 2


async def test_only_json_is_accepted(world: World) -> None:
    _, case_id, comment_id = await _case_with_reply(world)
    body = event_body(world.org, contract.EVENT_CASE_COMMENT_CREATED, case_id, comment_id)
    for content_type in ("text/plain", "application/x-www-form-urlencoded", "application/jsonx"):
        answer = await post(world.http, world.node.webhook_url, body, content_type=content_type)
        assert answer.status == 415, content_type
    # A charset parameter is still JSON.
    answer = await post(
        world.http, world.node.webhook_url, body, content_type="application/json; charset=utf-8"
    )
    assert answer.status == 202


async def test_a_ping_is_accepted_and_counted_without_reading_salesforce(world: World) -> None:
    body = event_body(world.org, contract.EVENT_PING, None, None)
    calls_before = world.api_calls()
    answer = await post(world.http, world.node.webhook_url, body)
    assert answer.status == 202
    assert answer.body["event"] == "ping"
    status = world.node.runtime.reply_status
    assert status.pings == 1
    assert status.last_webhook_event == "ping"
    assert status.last_webhook_at is not None and abs(status.last_webhook_at - time.time()) < 5
    assert world.api_calls() == calls_before


async def test_with_signing_off_the_token_alone_admits(make_world: WorldFactory) -> None:
    # The documented opt-out (webhook_signing = false); without it an install
    # makes its own secret and refuses unsigned calls.
    world = await make_world(webhook_signing=False, webhook_signing_secret=None)
    node = await world.start_node()
    body = event_body(world.org, contract.EVENT_PING, None, None)
    answer = await post(world.http, node.webhook_url, body, secret=None)
    assert answer.status == 202
    assert (await post(world.http, node.webhook_url + "x", body, secret=None)).status == 401


async def test_a_valid_call_answers_202_then_the_read_happens(world: World) -> None:
    session_id, case_id, comment_id = await _case_with_reply(world)
    queries_before = world.queries()
    answer = await ring(world, world.node, contract.EVENT_CASE_COMMENT_CREATED, case_id, comment_id)
    assert answer.status == 202
    assert answer.body["accepted"] is True
    # The answer does not wait for Salesforce: the read comes after, in the outbox.
    assert world.queries() == queries_before

    async def delivered() -> bool:
        return len(await agent_messages(world.node, session_id)) == 1

    await wait_for(delivered, what="the reply")
    assert world.queries() == queries_before + 1


async def test_a_call_while_the_store_does_not_answer_is_503(
    world: World, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    # It was a bare 500, a traceback logged for every call; a 503 asks the
    # package to call again, and the sweep reads what it missed.
    store = world.node.host.store

    async def down(*args: object, **kwargs: object) -> bool:
        raise ConnectionError("Error 111 connecting to 127.0.0.1:6379")

    monkeypatch.setattr(store, "set_if_absent", down)  # the signed call's replay mark
    monkeypatch.setattr(webhook, "_store_trouble", LogThrottle())
    body = event_body(world.org, contract.EVENT_PING, None, None)
    for _ in range(3):
        answer = await post(world.http, world.node.webhook_url, body)
        assert answer.status == 503
        assert "store failed" in answer.body["error"]
    lines = [r for r in caplog.records if r.getMessage().startswith("webhook: the store")]
    assert len(lines) == 1


async def test_refused_calls_log_one_line_in_a_while_by_reason(
    world: World, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    # Each refused call logged a line: 200 forged calls were 200 lines.
    caplog.set_level(logging.INFO, logger=webhook.__name__)
    now = [0.0]
    throttles = {"401 signature": LogThrottle(clock=lambda: now[0])}
    monkeypatch.setattr(webhook, "_refusals", throttles, raising=False)
    node = world.node
    body = event_body(world.org, contract.EVENT_PING, None, None)
    for _ in range(40):
        answer = await post(world.http, node.webhook_url, body, secret="whsec_someone_else_000000")
        assert answer.status == 401
    # Another reason in the flood still shows at once.
    wrong_token = node.webhook_url.rsplit("/", 1)[0] + "/not-the-token"
    assert (await post(world.http, wrong_token, body)).status == 401

    def lines() -> list[str]:
        return [
            r.getMessage()
            for r in caplog.records
            if r.levelno >= logging.INFO and r.getMessage().startswith("webhook refused:")
        ]

    assert lines() == ["webhook refused: 401 signature", "webhook refused: 401 token"]
    now[0] += 31  # the next line is due, with the count since the first
    await post(world.http, node.webhook_url, body, secret="whsec_someone_else_000000")
    assert lines()[-1] == "webhook refused: 401 signature (40 times in the last 31 s)"
    refused = node.runtime.reply_status.webhooks_refused  # the metric counts each
    assert refused["401 signature"] == 41 and refused["401 token"] == 1
