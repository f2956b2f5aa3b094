"""The stream reader on the SSE wire format, against a server that writes it by
hand: a BOM, CRLF and CR line ends, comments, pings, multi-line data, ``retry``,
unknown event types (skipped), an event cut off by the end of the stream (dropped
and read again after the reconnect), the same entry twice (once)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp
from aiohttp import web

from opencx_salesforce.live.models import LiveEvent, MessageEvent
from opencx_salesforce.live.sse import SseParser
from opencx_salesforce.live.stream import Backoff, EventStream

CONVERSATION = "3f1e0c4e-8a1b-4c3d-9e2f-0a1b2c3d4e5f"


def message(entry_id: str, text: str) -> str:
    payload = {
        "entryType": "Message",
        "abstractMessage": {"staticContent": {"formatType": "Text", "text": text}},
    }
    entry = {
        "identifier": entry_id,
        "entryType": "Message",
        "entryPayload": json.dumps(payload),
        "sender": {"role": "Agent", "subject": "005x"},
        "senderDisplayName": "Riley Rep",
        "transcriptedTimestamp": 1,
    }
    return json.dumps({"conversationId": CONVERSATION, "conversationEntry": entry})


async def start(
    aiohttp_server: Callable[..., Awaitable[Any]], bodies: list[bytes], seen: list[str | None]
) -> str:
    """A server answering each connection with the next body (the last one holds
    the line open, silent)."""

    async def sse(request: web.Request) -> web.StreamResponse:
        seen.append(request.headers.get("Last-Event-Id"))
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await response.prepare(request)
        body = bodies.pop(0) if bodies else b""
        for piece in (body[i : i + 7] for i in range(0, len(body), 7)):  # split anywhere
            await response.write(piece)
        if not bodies:
            await asyncio.sleep(3600)
        return response

    app = web.Application()
    app.router.add_get("/eventrouter/v1/sse", sse)
    server = await aiohttp_server(app)
    return str(server.make_url("/")).rstrip("/")


async def token() -> str:
    return "jwt"


async def test_the_wire_format_is_read_per_the_spec(
    aiohttp_server: Callable[..., Awaitable[Any]],
) -> None:
    first = (
        "\ufeff: a comment\r\n"
        "event: ping\r\ndata: 0\r\n\r\n"
        f"id: 7\revent: CONVERSATION_MESSAGE\rdata: {message('e1', 'one')}\r\r"
        "id: 8\nevent: CONVERSATION_SOMETHING_NEW\ndata: {}\n\n"
        f"retry: 10\nid: 9\nevent: CONVERSATION_MESSAGE\ndata: {message('e2', 'two')}\n\n"
        f"id: 10\nevent: CONVERSATION_MESSAGE\ndata: {message('e3', 'cut off')}\n"
    ).encode()
    second = (
        f"id: 10\nevent: CONVERSATION_MESSAGE\ndata: {message('e3', 'three')}\n\n"
        f"id: 10\nevent: CONVERSATION_MESSAGE\ndata: {message('e3', 'three')}\n\n"
    ).encode()
    seen_ids: list[str | None] = []
    url = await start(aiohttp_server, [first, second], seen_ids)
    stream = EventStream(
        aiohttp.ClientSession(),
        url,
        "00D000000000001AAA",
        token,
        last_event_id="5",
        backoff=Backoff(0.01, 1.5, 0.05),
        silence_limit=0.5,
    )
    got: list[LiveEvent] = []
    try:
        async with asyncio.timeout(10):
            async for event in stream.events():
                got.append(event)
                if len(got) == 3:
                    break
    finally:
        await stream.http.close()
    assert [e.text for e in got if isinstance(e, MessageEvent)] == ["one", "two", "three"]
    assert [e.event_id for e in got] == ["7", "9", "10"]
    assert seen_ids == ["5", "9"]  # resumed after the last complete event
    assert stream.backoff.initial == 0.01  # retry: 10 ms


def test_multi_line_data_and_ids_carry_over() -> None:
    parser = SseParser()
    events = parser.feed(b"data: a\ndata\ndata: b\nid: 4\n\ndata:c\n\nid\n\ndata: d\n\n")
    assert [(e.data, e.id) for e in events] == [("a\n\nb", "4"), ("c", "4"), ("d", "")]
