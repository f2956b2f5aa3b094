"""The network between the end user's client and the SCRT host, as the org's
Messaging ``latency_ms`` knob (a round-trip time) makes it.

A REST call (tokens, conversations, messages) waits half the round trip before
the route runs (the request on its way in: a message reaches the rep then) and
half after (the answer on its way back). The event stream's connect waits the
first half; each event then reaches the client half a round trip after it
happened, as a one-way network delay would deliver it (``sse.py``): events in a
burst are delayed together, not one after the other.

The rep's own routes (``/_emulator/...``) get no delay: the rep's console is
inside Salesforce.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from opencx_salesforce.emulator.messaging.faults import MessagingFaults
from opencx_salesforce.emulator.messaging.side import MessagingSide

SCRT_PATHS = ("/iamessage/", "/eventrouter/")

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def latency_middleware(side: MessagingSide) -> Any:
    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        if not request.path.startswith(SCRT_PATHS):
            return await handler(request)
        faults = await faults_of(side, request)
        one_way = faults.one_way_seconds() if faults is not None else 0.0
        if not one_way:
            return await handler(request)
        await asyncio.sleep(one_way)
        response = await handler(request)
        if not response.prepared:  # a streamed answer delays its own events
            await asyncio.sleep(one_way)
        return response

    return middleware


async def faults_of(side: MessagingSide, request: web.Request) -> MessagingFaults | None:
    """The knobs of the request's org: by its access token, or (the token
    requests) by the ``orgId`` of its body."""
    org_id = side.tokens.org_of(request.headers.get("Authorization"))
    if org_id is None and request.method == "POST" and request.can_read_body:
        try:
            body = json.loads(await request.read())  # aiohttp keeps it for the route
        except ValueError:
            body = None
        if isinstance(body, dict) and isinstance(body.get("orgId"), str):
            org_id = body["orgId"]
    org = side.org_by_id(org_id) if org_id else None
    return org.faults if org is not None else None
