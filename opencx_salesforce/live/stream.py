"""The end user's event stream (``GET {scrt_url}/eventrouter/v1/sse``), read for as
long as the caller wants: typed events in order, each entry once, the connection
re-established when it drops.

"Your custom client must detect and reestablish dropped connections" [src:
Server-Sent Events, https://developer.salesforce.com/docs/service/messaging-api/
references/about/server-sent-events.md]. Reconnects send the same token and the last
event id; the backoff and the 90-second silence limit follow the official sample
(eventSourceService.js: 1 s ×1.5 up to 30 s). Whether the platform replays from
``Last-Event-Id`` is UNCONFIRMED (MIAW.md §4): give a ``backfill`` (list-entries)
and entries missed while away are read from there. Unknown event types are
skipped ("must ignore unrecognized event types"); pings only prove the line alive.

Duplicates (a replay overlapping a backfill, an event sent twice) are dropped by
entry id within a bounded window; the caller's store is the lasting record of
what was delivered.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import OrderedDict
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass

import aiohttp

from opencx_salesforce.live.client import ScrtClient
from opencx_salesforce.live.errors import BadRequest, Forbidden, ScrtUnavailable, Unauthorized
from opencx_salesforce.live.models import LiveEvent, parse_event
from opencx_salesforce.live.sse import SseParser

SSE_PATH = "/eventrouter/v1/sse"
TokenSource = Callable[[], Awaitable[str]]
Backfill = Callable[[], Awaitable[Sequence[LiveEvent]]]


@dataclass(frozen=True)
class Backoff:
    initial: float = 1.0
    factor: float = 1.5
    cap: float = 30.0

    def delay(self, attempt: int) -> float:
        """Seconds before reconnect number ``attempt`` (1, 2, ...)."""
        return float(min(self.cap, self.initial * self.factor ** max(0, attempt - 1)))


class EventStream:
    def __init__(
        self,
        http: aiohttp.ClientSession,
        scrt_url: str,
        org_id: str,
        token: TokenSource,
        *,
        last_event_id: str = "",
        backfill: Backfill | None = None,
        backoff: Backoff = Backoff(),
        silence_limit: float = 90.0,
        max_failures: int | None = 10,
        dedupe_window: int = 256,
        renew: Callable[[], Awaitable[None]] | None = None,
    ) -> None:
        self.http = http
        self.url = scrt_url.rstrip("/") + SSE_PATH
        # "The 15-character org ID" [src: Server-Sent Events, X-Org-Id]
        self.org_id = org_id[:15]
        self.token = token
        self.last_event_id = last_event_id
        self.backfill = backfill
        self.backoff = backoff
        self.silence_limit = silence_limit
        self.max_failures = max_failures
        # Called on a 401 before one more try with ``token()``: a verified user's
        # expired token is renewed with a fresh identity JWT (MIAW.md §2). A guest's
        # cannot be (a new guest token is a new end user): leave it None.
        self.renew = renew
        self.connections = 0  # opened so far
        self._seen: OrderedDict[str, None] = OrderedDict()
        self._window = dedupe_window
        self._closed = False

    def close(self) -> None:
        """Stop after the current read (a reader waiting on the line is cancelled by
        cancelling its task)."""
        self._closed = True

    async def events(self) -> AsyncIterator[LiveEvent]:
        failures = 0
        renewed = False
        while not self._closed:
            try:
                # Closed at once when the caller stops reading: no line left open.
                async with contextlib.aclosing(self._connection()) as connection:
                    async for event in connection:
                        failures = 0
                        renewed = False
                        yield event
            except Unauthorized:
                if self.renew is None or renewed:
                    raise
                await self.renew()
                renewed = True
                continue
            except (aiohttp.ClientError, TimeoutError, ScrtUnavailable, ConnectionError):
                task = asyncio.current_task()
                if task is not None and task.cancelling():
                    # A cancellation that surfaced as a timeout or a broken read:
                    # the reader is being stopped, not the stream failing.
                    raise asyncio.CancelledError from None
                failures += 1
                if self.max_failures is not None and failures > self.max_failures:
                    raise ScrtUnavailable(
                        f"the event stream failed {failures} times in a row"
                    ) from None
            else:
                failures += 1  # the server ended the stream: reconnect
            if not self._closed:
                await asyncio.sleep(self.backoff.delay(failures))

    async def _connection(self) -> AsyncGenerator[LiveEvent, None]:
        headers = {
            "Accept": "text/event-stream",
            "Authorization": f"Bearer {await self.token()}",
            "X-Org-Id": self.org_id,
            "Cache-Control": "no-cache",
        }
        if self.last_event_id:
            headers["Last-Event-Id"] = self.last_event_id
        timeout = aiohttp.ClientTimeout(total=None, sock_connect=30, sock_read=None)
        async with self.http.get(self.url, headers=headers, timeout=timeout) as response:
            _check(response.status, await _peek_error(response))
            self.connections += 1
            # After every connect, the stream open: whatever came before it (while
            # away, or before the first connect) is read from the list.
            if self.backfill is not None:
                for missed in await self.backfill():
                    if self._fresh(missed):
                        yield missed
            parser = SseParser()
            parser.last_event_id = self.last_event_id or None
            while not self._closed:
                # asyncio.timeout, not wait_for: on Python 3.11 wait_for loses a
                # cancellation that lands as the read completes (gh-86296), and
                # the reader would read on past its stop().
                async with asyncio.timeout(self.silence_limit):
                    chunk = await response.content.readany()
                if not chunk:
                    return  # the server ended the stream
                for raw in parser.feed(chunk):
                    if raw.retry_ms is not None:
                        self.backoff = Backoff(
                            raw.retry_ms / 1000, self.backoff.factor, self.backoff.cap
                        )
                    if raw.id is not None:
                        self.last_event_id = raw.id
                    event = parse_event(raw.event, raw.id, raw.data)
                    if event is not None and self._fresh(event):
                        yield event

    def _fresh(self, event: LiveEvent) -> bool:
        """False for an entry already yielded (within the window)."""
        if not event.entry_id:
            return True
        if event.entry_id in self._seen:
            return False
        self._seen[event.entry_id] = None
        if len(self._seen) > self._window:
            self._seen.popitem(last=False)
        return True


async def _peek_error(response: aiohttp.ClientResponse) -> str:
    return "" if response.status == 200 else (await response.text())[:300]


def _check(status: int, body: str) -> None:
    if status == 200:
        return
    message = f"event stream: HTTP {status} {body}"
    if status == 401:
        raise Unauthorized(message, status=status, body=body)
    if status == 403:
        raise Forbidden(message, status=status, body=body)
    if status == 429 or status >= 500:
        raise ScrtUnavailable(message, status=status, body=body)
    raise BadRequest(message, status=status, body=body)


def list_entries_backfill(
    client: ScrtClient, token: TokenSource, conversation_ids: Callable[[], Sequence[str]]
) -> Backfill:
    """A backfill reading the newest page of entries of each live conversation,
    oldest first."""

    async def backfill() -> Sequence[LiveEvent]:
        found: list[LiveEvent] = []
        current = await token()
        for conversation_id in conversation_ids():
            page = await client.list_entries(current, conversation_id, direction="FromEnd")
            found.extend(reversed(page))
        return sorted(found, key=lambda event: event.timestamp_ms)

    return backfill
