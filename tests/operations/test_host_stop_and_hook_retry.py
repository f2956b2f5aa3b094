"""A host stopping, or a plugin failing a hook, loses no handoff.

An outside check of a rolling restart found both: the reference host stopped
its plugins before it stopped serving, so the requests still coming in were
refused by the plugin (``PluginNotStarted``) and answered 2xx all the same;
and a hook call that raised was crossed out of the host's journal, so nothing
ever made it again. The session said handed off; no Case ever came."""

from __future__ import annotations

import asyncio
from typing import Any

import aiohttp
import pytest

from opencx_salesforce.devhost import journal
from opencx_salesforce.devhost.sessions import SESSIONS_NAMESPACE
from opencx_salesforce.devhost.stack import start_host, start_stack
from opencx_salesforce.devhost.waiting import wait_for
from opencx_salesforce.models import Contact, HandoffReason, Role
from opencx_salesforce.store.base import ItemState, Lease
from opencx_salesforce.store.memory import MemoryStore


class HeldSessions(MemoryStore):
    """Session writes wait while ``hold`` is set: a request caught mid-way."""

    def __init__(self) -> None:
        super().__init__()
        self.hold: asyncio.Event | None = None
        self.entered = asyncio.Event()

    async def compare_and_set(self, ns: str, key: str, *args: Any, **kwargs: Any) -> bool:
        if ns == SESSIONS_NAMESPACE and self.hold is not None:
            self.entered.set()
            await self.hold.wait()
        return await super().compare_and_set(ns, key, *args, **kwargs)


async def test_a_handoff_arriving_as_the_host_stops_is_done_after_the_restart() -> None:
    store = HeldSessions()
    stack = await start_stack(store=store)
    host2 = None
    try:
        session = await stack.host.create_session(
            contact=Contact(name="Late", email="late@example.com"), topic="Stopping"
        )
        await stack.host.post_message(session.id, Role.CONTACT, "Are you there?")
        token = stack.host.settings.admin_token_value()
        store.hold = asyncio.Event()
        async with aiohttp.ClientSession(headers={"Authorization": f"Bearer {token}"}) as http:
            request = asyncio.ensure_future(
                http.post(
                    f"{stack.host_url}/api/sessions/{session.id}/handoff",
                    json={"code": "requested"},
                )
            )
            await store.entered.wait()  # the request is in the host, mid-way
            stopping = asyncio.ensure_future(stack.host.stop())
            await asyncio.sleep(0.3)  # the stop has begun
            store.hold.set()
            answer = await request
            assert answer.status == 200, await answer.text()
            await stopping
        # The next start (any instance) finds the job, and the Case is made.
        host2, _, _ = await start_host(store=store, emulator_url=stack.emulator.base_url)

        async def linked() -> bool:
            got = await host2.get_session(session.id)
            return got is not None and "salesforce_case_id" in got.metadata

        await wait_for(linked, timeout=20, what="the Case of the handoff made during the stop")
        assert [e.hook for e in stack.host.hook_errors] == []
    finally:
        if host2 is not None:
            await host2.stop()
        await stack.emulator.close()


class RefusesOneJob(MemoryStore):
    """The plugin's write of a new job fails once, as a store blinking would."""

    refuse = 0

    async def enqueue_leased(self, *args: Any, **kwargs: Any) -> Lease | None:
        if self.refuse:
            self.refuse -= 1
            raise ConnectionError("the store blinked")
        return await super().enqueue_leased(*args, **kwargs)

    async def enqueue(self, *args: Any, **kwargs: Any) -> bool:
        if self.refuse:
            self.refuse -= 1
            raise ConnectionError("the store blinked")
        return await super().enqueue(*args, **kwargs)


async def test_a_handoff_the_plugin_failed_is_made_again(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(journal, "RETRY_FIRST", 0.2)
    store = RefusesOneJob()
    stack = await start_stack(store=store)
    try:
        session = await stack.host.create_session(
            contact=Contact(name="Blink", email="blink@example.com"), topic="Blink"
        )
        await stack.host.post_message(session.id, Role.CONTACT, "Hello?")
        store.refuse = 1
        await stack.host.handoff(session.id, HandoffReason(code="requested"))
        [error] = stack.host.hook_errors
        assert error.hook == "on_handoff" and "the store blinked" in str(error.error)

        async def linked() -> bool:
            got = await stack.host.get_session(session.id)
            return got is not None and "salesforce_case_id" in got.metadata

        await wait_for(linked, timeout=10, what="the handoff made again")
        assert await store.keys(journal.JOURNAL_NS) == []  # crossed out once done
    finally:
        await stack.close()


class SlowLeasing(MemoryStore):
    """The write of a job started where it was submitted waits for the test."""

    def __init__(self) -> None:
        super().__init__()
        self.hold: asyncio.Event | None = None
        self.entered = asyncio.Event()

    async def enqueue_leased(self, *args: Any, **kwargs: Any) -> Lease | None:
        if self.hold is not None:
            self.entered.set()
            await self.hold.wait()
        return await super().enqueue_leased(*args, **kwargs)


async def test_a_job_submitted_as_the_outbox_stops_is_given_back_not_started() -> None:
    # Stop iterated the jobs in hand across awaits while a submit added one
    # ("dictionary changed size during iteration"), and the job it started
    # after the stop ran on into a closing store.
    store = SlowLeasing()
    stack = await start_stack(store=store)
    try:
        session = await stack.host.create_session(
            contact=Contact(name="Edge", email="edge@example.com"), topic="Edge"
        )
        store.hold = asyncio.Event()
        handoff = asyncio.ensure_future(
            stack.host.handoff(session.id, HandoffReason(code="requested"))
        )
        await store.entered.wait()
        outbox = stack.runtime.outbox
        stopping = asyncio.ensure_future(outbox.stop())
        await asyncio.sleep(0.05)
        store.hold.set()
        await handoff
        await stopping
        [item] = await outbox.items()
        assert item.state is ItemState.READY, item  # any worker takes it, at once
        assert not outbox.running_here(item.item_id)
        assert outbox.running_workers() == 0
        assert [e.hook for e in stack.host.hook_errors] == []
    finally:
        await stack.close()
