"""A chat's ending that keeps failing (here the host refuses to resolve the
session) is tried again after 10 s, then twice as long each time, and shown to
the operator: one log line a try, the settings page's status.json and the
metrics. It used to be tried, and logged with its traceback, at every keeper
pass (a third of the stream lease: 10 s by default) without end. Nothing is
given up: once the host takes the resolution again, the session resolves."""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from live_stack import live_host, new_emulator
from live_support import Rep
from prometheus_client import generate_latest
from test_live_edges import accepted_chat, status

from opencx_salesforce.devhost.stack import Stack
from opencx_salesforce.devhost.waiting import wait_for
from opencx_salesforce.live import end_retry
from opencx_salesforce.live.records import LiveChat
from opencx_salesforce.live.service import LiveService
from opencx_salesforce.models import SessionStatus


@pytest.fixture
async def stack() -> AsyncIterator[Stack]:
    emulator, org = await new_emulator()
    stack = await live_host(emulator, org)
    try:
        yield stack
    finally:
        await stack.close()


@pytest.fixture
async def rep(stack: Stack) -> AsyncIterator[Rep]:
    async with aiohttp.ClientSession() as http:
        yield Rep(http, stack.emulator.base_url, stack.org)


class Later:
    """The real time, ``ahead`` seconds on: "a while later" without waiting."""

    def __init__(self) -> None:
        self.ahead = 0.0

    def time(self) -> float:
        return time.time() + self.ahead

    def monotonic(self) -> float:
        return time.monotonic() + self.ahead

    async def sleep(self, seconds: float) -> None:
        raise AssertionError("not slept on")


class DownHost:
    """The host's resolution refused while ``down``; the calls counted."""

    def __init__(self, stack: Stack) -> None:
        self.resolve = stack.host.resolve_session
        self.down = True
        self.calls = 0

    async def resolve_session(self, session_id: str) -> None:
        self.calls += 1
        if self.down:
            raise RuntimeError("the sessions database is read-only")
        await self.resolve(session_id)


async def status_facts(stack: Stack) -> dict[str, Any]:
    token = stack.host.settings.admin_token.get_secret_value()
    async with (
        aiohttp.ClientSession() as http,
        http.get(
            f"{stack.host_url}/integrations/salesforce/admin/status.json",
            headers={"Authorization": f"Bearer {token}"},
        ) as answer,
    ):
        assert answer.status == 200
        return dict((await answer.json())["live"])


async def settings_page(stack: Stack) -> str:
    token = stack.host.settings.admin_token.get_secret_value()
    async with (
        aiohttp.ClientSession() as http,
        http.get(
            f"{stack.host_url}/integrations/salesforce/admin",
            headers={"Authorization": f"Bearer {token}"},
        ) as answer,
    ):
        assert answer.status == 200
        return await answer.text()


async def metrics_text(stack: Stack) -> str:
    await stack.runtime.metrics.read_store()
    return generate_latest(stack.runtime.metrics.registry).decode()


async def failures(live: LiveService, session_id: str, count: int) -> LiveChat:
    async def counted() -> LiveChat | None:
        chat = await live.chats.get(session_id)
        return chat if chat is not None and chat.end_failures >= count else None

    chat: LiveChat = await wait_for(counted, timeout=10, what=f"{count} failed end(s)")
    return chat


async def test_an_end_that_keeps_failing_backs_off_shows_itself_and_finishes_later(
    stack: Stack, rep: Rep, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="opencx_salesforce.live")
    session, chat, live = await accepted_chat(stack, rep)
    later = Later()
    monkeypatch.setattr(live.keeper, "clock", later)
    monkeypatch.setattr(live.inbound, "clock", later)
    host = DownHost(stack)
    monkeypatch.setattr(stack.host, "resolve_session", host.resolve_session)

    await rep.act(chat.conversation_id, "end")
    failed = await failures(live, session.id, 1)
    assert failed.end_retry_at - later.time() == pytest.approx(end_retry.FIRST, abs=2)
    for _ in range(5):  # passes before the retry is due: no try, no line
        await live.keeper.look_once()
    assert host.calls == 1
    lines = [r for r in caplog.records if "failed" in r.getMessage()]
    assert len(lines) == 1 and lines[0].exc_info is not None, [r.getMessage() for r in lines]

    facts = await status_facts(stack)
    assert facts["endings_failing"] == 1
    [shown] = facts["failing_endings"]
    assert (shown["session_id"], shown["failures"]) == (session.id, 1)
    assert "read-only" in shown["error"]
    page = await settings_page(stack)
    assert 'id="live-failing"' in page and session.id in page and "read-only" in page
    text = await metrics_text(stack)
    assert "opencx_salesforce_live_endings_failing 1.0" in text
    assert 'opencx_salesforce_live_chats{state="ended"} 1.0' in text

    # Due: tried again, failing again; the next wait twice as long.
    later.ahead += end_retry.FIRST + 1
    failed = await failures(live, session.id, 2)
    assert host.calls == 2
    assert failed.end_retry_at - later.time() == pytest.approx(2 * end_retry.FIRST, abs=2)
    assert await status(stack, session.id) == SessionStatus.HANDED_OFF

    # The host takes resolutions again: the next try finishes the end.
    host.down = False
    later.ahead += 2 * end_retry.FIRST + 1

    async def resolved() -> bool:
        return await status(stack, session.id) == SessionStatus.RESOLVED

    await wait_for(resolved, timeout=10, what="the session resolved")
    done = await live.chats.get(session.id)
    assert done is not None and not done.ending and done.end_failures == 0
    assert (await status_facts(stack))["endings_failing"] == 0
    assert 'id="live-failing"' not in await settings_page(stack)
    assert "opencx_salesforce_live_endings_failing 0.0" in await metrics_text(stack)
    assert (await rep.conversation(chat.conversation_id))["closed"]


def test_the_wait_doubles_to_a_cap() -> None:
    waits = [end_retry.delay(n) for n in range(1, 10)]
    assert waits[:4] == [10.0, 20.0, 40.0, 80.0]
    assert waits[-1] == end_retry.CAP and max(waits) == end_retry.CAP
