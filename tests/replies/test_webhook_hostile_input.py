"""Issue 16, items 7, 10 and 11 at the webhook: a captured signed call cannot be
replayed (on any instance sharing the store), a half-sent body is cut off, and
numbers too long for Python are a 400, not a 500. Over real HTTP to the host."""

from __future__ import annotations

import asyncio
import time

from replies_support import SECRET, World, WorldFactory, case_of, event_body, handed_off, post

from opencx_salesforce.apex import contract


async def test_a_replayed_signed_call_is_refused_on_every_instance(
    make_world: WorldFactory,
) -> None:
    world = await make_world()
    first = await world.start_node()
    second = await world.start_node()  # another instance on the same store
    session = await handed_off(first)
    case_id = await case_of(first, session.id)
    body = event_body(world.org, contract.EVENT_CASE_UPDATED, case_id, case_id)
    stamp = str(int(time.time()))
    signature = contract.sign(SECRET, stamp, body)
    jobs_before = len(await first.runtime.outbox.items())

    original = await post(world.http, first.webhook_url, body, timestamp=stamp, signature=signature)
    queries_after_original = world.queries()
    replays = [
        await post(world.http, node.webhook_url, body, timestamp=stamp, signature=signature)
        for node in (first, second, first, second)
    ]

    assert original.status == 202
    assert [r.status for r in replays] == [409] * 4
    assert replays[0].body == {"error": "this signed call was already received"}
    refused = (
        first.runtime.reply_status.webhooks_refused["409 replay"]
        + second.runtime.reply_status.webhooks_refused["409 replay"]
    )
    assert refused == 4
    # The replays queued nothing and read nothing.
    assert len(await first.runtime.outbox.items()) <= jobs_before + 1
    assert world.queries() - queries_after_original <= 1  # the original's own read at most
    # A new call (a new timestamp, so a new signature) is accepted as usual.
    fresh_stamp = str(int(stamp) + 1)
    fresh = await post(world.http, second.webhook_url, body, timestamp=fresh_stamp)
    assert fresh.status == 202


async def test_a_refused_signature_is_not_remembered(world: World) -> None:
    # Only signatures that passed the check go into the cache: a stranger's
    # garbage neither fills it nor blocks the real call with the same header.
    body = event_body(world.org, contract.EVENT_PING, None, None)
    stamp = str(int(time.time()))
    signature = contract.sign(SECRET, stamp, body)
    other_body = body.replace(b"ping", b"ping ")
    wrong = await post(
        world.http, world.node.webhook_url, other_body, timestamp=stamp, signature=signature
    )
    right = await post(
        world.http, world.node.webhook_url, body, timestamp=stamp, signature=signature
    )
    assert (wrong.status, right.status) == (401, 202)


async def test_a_half_sent_webhook_body_is_cut_off_with_408(make_world: WorldFactory) -> None:
    world = await make_world(webhook_body_timeout_seconds=0.3)
    node = await world.start_node()
    host, port = node.url.split("//", 1)[1].split(":")
    path = node.webhook_url.split(node.url, 1)[1]
    reader, writer = await asyncio.open_connection(host, int(port))
    stamp = str(int(time.time()))
    writer.write(
        (
            f"POST {path} HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\n"
            f"{contract.HEADER_TIMESTAMP}: {stamp}\r\n{contract.HEADER_SIGNATURE}: v1=00\r\n"
            "Content-Length: 500\r\n\r\n"
            '{"event": "pi'
        ).encode()
    )
    await writer.drain()
    started = time.monotonic()
    status_line = await asyncio.wait_for(reader.readline(), timeout=10)
    waited = time.monotonic() - started
    writer.close()
    assert status_line.startswith(b"HTTP/1.1 408"), status_line
    assert waited < 5
    assert node.runtime.reply_status.webhooks_refused["408 body timeout"] == 1


async def test_a_400_digit_timestamp_is_a_401_not_a_500(world: World) -> None:
    body = event_body(world.org, contract.EVENT_PING, None, None)
    answer = await post(world.http, world.node.webhook_url, body, timestamp="9" * 400)
    assert answer.status == 401
    assert answer.body == {"error": "unauthorized: timestamp"}


async def test_a_5000_digit_json_integer_is_a_400_not_a_500(world: World) -> None:
    body = b'{"event": "ping", "orgId": ' + b"7" * 5000 + b"}"
    jobs_before = len(await world.node.runtime.outbox.items())
    answer = await post(world.http, world.node.webhook_url, body)
    assert answer.status == 400
    assert "number too long" in answer.body["error"]
    assert len(await world.node.runtime.outbox.items()) == jobs_before
