"""Each open live chat's event stream, held by exactly one host instance.

Every instance runs a :class:`StreamKeeper`. It looks at the open chats in the
store and takes a lease on each chat's stream that nobody holds (a key with a
TTL, set only if absent); it renews its leases while it reads; when an
instance dies its leases run out and another instance takes the stream over,
resuming from the ``Last-Event-Id`` kept in the store. Entries handled before
are recognised by their ids (:mod:`.inbound`), so a takeover repeats nothing.

A guest's token refused (401) ends the chat's live part: a new guest token would
be a new end user who cannot see the conversation [MIAW.md §2], so the fallback is
taken. A verified user's expired token is renewed with a fresh identity JWT
[MIAW.md §2, "Renew token"].

The agent ending a chat is handled inside its reader (:meth:`.LiveInbound.end`),
in steps: a reader busy with an event is never cancelled (a chat that closes
meanwhile stops its reader after the event). Every ending (the agent's, the
contact leaving, the fallback) is marked in the store before its first step;
one cut short all the same (the instance stopped or killed) is finished by
whoever takes the chat's lease next, and one whose step failed once it is due
again (end_retry.py), not at every pass.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
import time
from collections.abc import Callable, Coroutine, Sequence
from typing import Any

import aiohttp

from opencx_salesforce.clock import SYSTEM_CLOCK, Clock
from opencx_salesforce.live.client import MAX_ENTRIES, ScrtClient
from opencx_salesforce.live.errors import Forbidden, LiveError, Unauthorized
from opencx_salesforce.live.inbound import LiveInbound
from opencx_salesforce.live.models import LiveEvent
from opencx_salesforce.live.records import KEEP_ENDED_SECONDS, LiveChat, LiveChats
from opencx_salesforce.live.recover import recover_cut_ends
from opencx_salesforce.live.stream import Backfill, Backoff, EventStream, TokenSource
from opencx_salesforce.live.tokens import LiveTokens
from opencx_salesforce.settings.live import LiveSettings

log = logging.getLogger(__name__)

# The official sample's reconnect: 1 s ×1.5 up to 30 s [MIAW.md §4].
DEFAULT_BACKOFF = Backoff()
# How long stop() waits for the readers it cancelled.
STOP_TIMEOUT = 5.0


class _Reader:
    """A chat's task on this instance: reading its stream, or finishing its end."""

    task: asyncio.Task[None]  # set as soon as it is made

    def __init__(self) -> None:
        # Handling an event: not to be cancelled, or the agent's end of the chat
        # stops between its steps (seen in a soak: sessions left handed off).
        self.busy = False
        self.halted = False
        self.finishing = False  # finishing an ending, not reading the stream

    def halt(self) -> None:
        """Stop: at once while waiting for the stream, else after the event."""
        self.halted = True
        if not self.busy:
            self.task.cancel()


Work = Callable[[str, _Reader], Coroutine[Any, Any, None]]


class StreamKeeper:
    def __init__(
        self,
        *,
        http: aiohttp.ClientSession,
        settings: LiveSettings,
        scrt: ScrtClient,
        chats: LiveChats,
        inbound: LiveInbound,
        tokens: LiveTokens,
        clock: Clock = SYSTEM_CLOCK,
        backoff: Backoff = DEFAULT_BACKOFF,
        instance_id: str | None = None,
    ) -> None:
        self.http = http
        self.clock = clock  # when a failed ending is due again (end_retry.py)
        self.settings = settings
        self.scrt = scrt
        self.chats = chats
        self.inbound = inbound
        self.tokens = tokens
        self.backoff = backoff
        self.instance_id = instance_id or secrets.token_hex(6)
        # Each entry leaves when its task ends (a done task keeps its frames).
        self._readers: dict[str, _Reader] = {}
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    @property
    def held(self) -> list[str]:
        """The session ids whose streams this instance reads now."""
        return [sid for sid, reader in self._readers.items() if not reader.task.done()]

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="live-streams")

    def wake(self) -> None:
        """Look at the chats now (a new one was created)."""
        self._wake.set()

    async def stop(self, *, release: bool = True) -> None:
        """Stop reading. ``release=False`` leaves the leases to run out, as a
        process killed at once would."""
        # Cancelled at once, an end half done among them: the store marks it
        # (records.LiveChat.ending) and the next holder of the lease finishes it.
        readers = dict(self._readers)  # each entry leaves as its task ends
        tasks = [t for t in (self._task, *(r.task for r in readers.values())) if t is not None]
        for task in tasks:
            task.cancel()
        if tasks:
            # Bounded: a reader stuck in a read that ignores its cancellation must
            # not hold the host's shutdown (it was seen to wait minutes).
            _, stuck = await asyncio.wait(tasks, timeout=STOP_TIMEOUT)
            if stuck:
                log.warning(
                    "live streams: %d reader(s) did not stop in %.0f s", len(stuck), STOP_TIMEOUT
                )
        if release:
            for session_id in readers:
                chat = await self.chats.get(session_id)
                if chat is not None:
                    await self.chats.release_lease(chat.conversation_id, self.instance_id)
        self._readers.clear()
        self._task = None

    async def _run(self) -> None:
        interval = self.settings.stream_lease_seconds / 3
        try:
            await recover_cut_ends(self.chats, self.inbound.host)
        except Exception:  # a store hiccup: the next start looks again
            log.exception("live streams: could not look for chats an older release left stuck")
        while True:
            try:
                await self.look_once()
            except asyncio.CancelledError:
                raise
            except Exception:  # a store hiccup must not end the keeper
                log.exception("live streams: could not look at the chats")
            self._wake.clear()
            # asyncio.timeout, not wait_for: on Python 3.11 wait_for loses a
            # cancellation that lands as the wake is set (gh-86296), and the
            # keeper would look on past its stop().
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(interval):
                    await self._wake.wait()

    async def look_once(self) -> None:
        """Renew what is held, drop what was lost, take what nobody holds, and
        finish the endings left half done (a failed one once it is due again)."""
        ttl = self.settings.stream_lease_seconds
        for session_id in await self.chats.session_ids():
            chat = await self.chats.get(session_id)
            reader = self._readers.get(session_id)
            running = reader is not None and not reader.task.done()
            if chat is None or not (chat.is_open or chat.ending):
                if running and reader is not None:
                    reader.halt()
                if chat is not None:
                    await self.chats.forget_if_ended(session_id, time.time() - KEEP_ENDED_SECONDS)
                continue
            if chat.ending and not running and chat.end_retry_at > self.clock.time():
                continue  # failed lately: not due again yet, and no lease taken for it
            # An ending under way is held as the stream was: its reader (ours,
            # or another instance's) finishes it, or, gone, the next holder does.
            have = await self.chats.take_lease(chat.conversation_id, self.instance_id, ttl)
            if running and not have and reader is not None:
                log.warning("session %s: stream lease lost; another instance reads it", session_id)
                reader.halt()
            elif running and chat.ending and reader is not None and not reader.finishing:
                # Ending outside the reader (the contact left, a fallback from a
                # job): the stream is done with; the next pass finishes the rest
                # if its taker could not. A reader busy with the event that
                # began the ending goes on with it.
                reader.halt()
            elif have and not running:
                self._begin(session_id, self._finish if chat.ending else self._read)

    def _begin(self, session_id: str, work: Work) -> None:
        reader = _Reader()
        reader.task = asyncio.create_task(
            work(session_id, reader), name=f"live-stream-{session_id}"
        )
        self._readers[session_id] = reader
        reader.task.add_done_callback(lambda _: self._ended(session_id, reader))

    def _ended(self, session_id: str, reader: _Reader) -> None:
        """Forget a reader whose task ended (not a newer one of the chat)."""
        if self._readers.get(session_id) is reader:
            del self._readers[session_id]
        task = reader.task
        if not task.cancelled() and (error := task.exception()) is not None:
            # Looked at again on the next pass (an end left half done is finished then).
            log.error("session %s: live stream reader failed", session_id, exc_info=error)

    async def _finish(self, session_id: str, reader: _Reader) -> None:
        """An ending left half done (its taker stopped, killed, or a step
        failed): the rep's end, the contact leaving, or the fallback."""
        reader.busy = reader.finishing = True  # not cut short by a keeper pass
        chat = await self.chats.get(session_id)
        if chat is None:
            return
        await self.inbound.finish(session_id)
        await self.chats.release_lease(chat.conversation_id, self.instance_id)

    async def _read(self, session_id: str, reader: _Reader) -> None:
        chat = await self.chats.get(session_id)
        if chat is None or not chat.is_open:
            return
        conversation_id = chat.conversation_id

        async def token() -> str:
            current = await self.chats.get(session_id)
            return current.token if current is not None else ""

        async def renew() -> None:
            await self.tokens.renew(session_id)

        stream = EventStream(
            self.http,
            self.scrt.scrt_url,
            self.scrt.org_id,
            token,
            last_event_id=chat.last_event_id,
            backfill=self._backfill(session_id, conversation_id, token),
            backoff=self.backoff,
            renew=renew if chat.verified else None,
            max_failures=None,
        )
        current: LiveChat | None = chat
        try:
            async for event in stream.events():
                reader.busy = True
                current = await self.inbound.handle(current or chat, event)
                if event.event_id or event.timestamp_ms:
                    current = await self.chats.update(
                        session_id,
                        last_event_id=event.event_id or stream.last_event_id,
                        last_entry_ms=max(event.timestamp_ms, (current or chat).last_entry_ms),
                    )
                if current is None or not current.is_open or reader.halted:
                    break
                reader.busy = False
        except (Unauthorized, Forbidden) as error:
            reader.busy = True
            log.warning("session %s: the chat's token was refused: %s", session_id, error)
            await self.inbound.fallback(session_id, "token_refused")
        except LiveError as error:
            log.warning("session %s: stream stopped: %s; looking again later", session_id, error)
            return
        finally:
            stream.close()
        await self.chats.release_lease(conversation_id, self.instance_id)

    def _backfill(self, session_id: str, conversation_id: str, token: TokenSource) -> Backfill:
        """After each connect: the entries since the last one handled, oldest
        first, page by page. Whether the platform replays from Last-Event-Id is
        UNCONFIRMED [MIAW.md §4]; what both bring is handled once (.inbound)."""

        async def backfill() -> Sequence[LiveEvent]:
            chat = await self.chats.get(session_id)
            start = chat.last_entry_ms if chat is not None else 0
            current = await token()
            found: list[LiveEvent] = []
            while True:
                page = await self.scrt.list_entries(
                    current, conversation_id, direction="FromStart", start_timestamp=start or None
                )
                found.extend(page)
                newest = max((event.timestamp_ms for event in page), default=start)
                if len(page) < MAX_ENTRIES or newest <= start:
                    return found
                start = newest

        return backfill
