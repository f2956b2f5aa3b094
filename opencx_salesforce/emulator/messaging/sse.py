"""``GET /eventrouter/v1/sse``: the end user's event stream.

Headers: ``Accept: text/event-stream``, ``Authorization: Bearer <accessToken>``
(required), ``X-Org-Id: <15-character org Id>``, ``Last-Event-Id``. [src: Server-Sent
Events, https://developer.salesforce.com/docs/service/messaging-api/references/about/
server-sent-events.md] One stream carries every conversation of the token's end
user (public client code, UNCONFIRMED).

What the documentation leaves open, done here and marked UNCONFIRMED (MIAW.md §4):
a reconnect with ``Last-Event-Id`` replays the events after it (the
``replay_on_resume`` knob turns that off); idle streams get ``event: ping`` with
data ``0``; 400 without ``X-Org-Id``; the stream ends when the token expires.
"""

from __future__ import annotations

import asyncio
import time

from aiohttp import web

from opencx_salesforce.emulator.messaging.http_errors import ScrtError, bad_request
from opencx_salesforce.emulator.messaging.scrt_auth import TokenRoutes
from opencx_salesforce.emulator.messaging.side import MessagingSide
from opencx_salesforce.emulator.messaging.tokens import TokenError

SSE_PATH = "/eventrouter/v1/sse"
PING = b"event: ping\ndata: 0\n\n"


class EventStream:
    def __init__(self, side: MessagingSide, tokens: TokenRoutes) -> None:
        self.side = side
        self.tokens = tokens

    def add_to(self, app: web.Application) -> None:
        app.router.add_get(SSE_PATH, self.stream)

    async def stream(self, request: web.Request) -> web.StreamResponse:
        try:
            grant = self.tokens.grant(request)
            org_id = request.headers.get("X-Org-Id", "")
            if org_id not in (grant.org_id, grant.org_id[:15]):
                raise bad_request("X-Org-Id: required, the org Id of the token")
            last = _last_event_id(request.headers.get("Last-Event-Id"))
        except ScrtError as error:
            return error.response()
        org = self.side.org_by_id(grant.org_id)
        assert org is not None
        faults = org.faults
        if last is None or not faults.replay_on_resume:
            last = self.side.events.last_id
        response = web.StreamResponse(
            headers={
                "Content-Type": "text/event-stream",
                "Cache-Control": "no-cache",
                "X-Accel-Buffering": "no",
            }
        )
        await response.prepare(request)
        budget = faults.take_drop()
        generation = self.side.drop_generation
        sent = 0
        authorization = request.headers.get("Authorization")
        try:
            while True:
                waiter = self.side.events.waiter(grant.subject)
                pending = self.side.events.after(grant.subject, last)
                for event in pending:
                    await _network_delay(event.at + faults.one_way_seconds())
                    frame = event.frame()
                    await response.write(frame)
                    if faults.duplicate():
                        await response.write(frame)
                    last = event.id
                    sent += 1
                    if budget and sent >= budget:
                        return response  # the fault: cut after N events
                if pending:
                    continue
                try:
                    await asyncio.wait_for(waiter.wait(), self.side.heartbeat_seconds)
                except TimeoutError:
                    await response.write(PING)
                if generation != self.side.drop_generation or _gone(request):
                    return response
                try:
                    self.side.tokens.check(authorization, self.side.state.clock.now())
                except TokenError:
                    return response  # expired: the reconnect gets its 401
        except ConnectionResetError:  # the client went away
            return response


async def _network_delay(until: float) -> None:
    """An event reaches the client half a round trip after it happened (the
    latency knob, latency.py); one long past is not delayed again."""
    wait = until - time.monotonic()
    if wait > 0:
        await asyncio.sleep(wait)


def _last_event_id(value: str | None) -> int | None:
    if value is None or value.strip() == "":
        return None
    try:
        return int(value)
    except ValueError:
        raise bad_request("Last-Event-Id: expected an event id from this stream") from None


def _gone(request: web.Request) -> bool:
    transport = request.transport
    return transport is None or transport.is_closing()
