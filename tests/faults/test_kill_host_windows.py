"""kill -9 at the exact points the random trials hit only sometimes: each is a
window where a crash loses or strands a customer's words. The host process kills
itself there (``fault_host_runner.py`` crash points); the test then restarts it
and does what a careful bot would do.

Each test here pins a bug (xfail, strict): when the bug is fixed the test
passes, strict xfail fails the run, and the marker (and the matching flag in
``test_kill_host.py``) comes off.
"""

from __future__ import annotations

from collections.abc import Awaitable
from typing import Any

import aiohttp
import pytest
from faults_kill_support import HostLife, Install
from faults_support import (
    ADMIN_TOKEN,
    HostApi,
    HostError,
    case_for_session,
    comment_bodies,
)

from opencx_salesforce.devhost.waiting import WaitTimedOut, wait_for
from opencx_salesforce.runtime import OUTBOX_QUEUE

MESSAGES = ["Where is my parcel?", "Let me check the tracking.", "It says delivered, it is not."]


async def start_conversation(api: HostApi, email: str) -> str:
    session_id = await api.create_session(name="Jane Doe", email=email)
    for n, text in enumerate(MESSAGES):
        await api.post_message(session_id, "contact" if n % 2 == 0 else "bot", text)
    return session_id


async def cut_off(request: Awaitable[Any]) -> bool:
    """True when the host died before answering."""
    try:
        await request
    except (aiohttp.ClientError, TimeoutError):
        return True
    return False


async def idle(install: Install, life: HostLife) -> None:
    """Until the host's outbox has nothing ready or leased (a dead letter aside)."""
    api = HostApi(install.http, life.base_url, ADMIN_TOKEN)

    async def quiet() -> bool:
        return bool((await api.status())["outbox"]["pending"] == 0)

    await wait_for(quiet, timeout=20, what="the outbox to settle")


async def test_a_kill_between_the_handoff_commit_and_the_plugin_hook_keeps_the_handoff(
    install: Install,
) -> None:
    await install.hosts.connect()
    life = await install.hosts.start(install.http, crash_at="handoff_hook")
    api = HostApi(install.http, life.base_url, ADMIN_TOKEN)
    session_id = await start_conversation(api, "window1@example.com")
    assert await cut_off(api.handoff(session_id))

    life = await install.hosts.start(install.http)
    api = HostApi(install.http, life.base_url, ADMIN_TOKEN)
    session = await api.session(session_id)
    if session["status"] == "handed_off":
        # What a careful bot does after a cut-off handoff: the host says it is done.
        with pytest.raises(HostError) as refused:
            await api.handoff(session_id)
        assert refused.value.status == 409
    else:
        await api.handoff(session_id)
    await idle(install, life)
    assert case_for_session(install.org, session_id) is not None, "the handoff was lost"


async def test_a_kill_between_a_message_commit_and_the_plugin_hook_keeps_the_message(
    install: Install,
) -> None:
    await install.hosts.connect()
    life = await install.hosts.start(install.http)
    api = HostApi(install.http, life.base_url, ADMIN_TOKEN)
    session_id = await start_conversation(api, "window2@example.com")
    await api.handoff(session_id)

    async def created() -> bool:
        return case_for_session(install.org, session_id) is not None

    await wait_for(created, what="the Case")
    await install.hosts.kill(life)

    life = await install.hosts.start(install.http, crash_at="reengage_hook")
    api = HostApi(install.http, life.base_url, ADMIN_TOKEN)
    later = "Any news? I still have nothing."
    assert await cut_off(api.post_message(session_id, "contact", later))

    life = await install.hosts.start(install.http)
    api = HostApi(install.http, life.base_url, ADMIN_TOKEN)
    texts = [m["text"] for m in (await api.session(session_id))["messages"]]
    assert later in texts  # the host has it: a careful bot does not send it again
    await idle(install, life)
    case = case_for_session(install.org, session_id)
    assert case is not None
    assert any(later in body for body in comment_bodies(install.org, case["Id"])), (
        "the contact's message never reached the Case"
    )


async def test_a_kill_right_after_the_handoff_is_queued_keeps_the_handoff(
    install: Install,
) -> None:
    await install.hosts.connect()
    life = await install.hosts.start(install.http, crash_at="after_queueing")
    api = HostApi(install.http, life.base_url, ADMIN_TOKEN)
    session_id = await start_conversation(api, "window3@example.com")
    assert await cut_off(api.handoff(session_id))

    life = await install.hosts.start(install.http)
    api = HostApi(install.http, life.base_url, ADMIN_TOKEN)
    assert (await api.session(session_id))["status"] == "handed_off"
    await api.post_message(session_id, "contact", "Hello? Is anyone there?")

    async def created() -> bool:
        return case_for_session(install.org, session_id) is not None

    try:
        # Not a fixed pause: a loaded machine (the whole suite) restarts slower.
        await wait_for(created, timeout=15, what="the Case")
    except WaitTimedOut:
        async with install.hosts.store() as store:
            waiting = [i.item_id for i in await store.items(OUTBOX_QUEUE)]
        raise AssertionError(f"no Case; the outbox holds only {waiting}") from None


async def test_a_kill_after_the_index_link_still_puts_the_case_id_on_the_session(
    install: Install,
) -> None:
    await install.hosts.connect()
    life = await install.hosts.start(install.http, crash_at="after_link_session")
    api = HostApi(install.http, life.base_url, ADMIN_TOKEN)
    session_id = await start_conversation(api, "window4@example.com")
    await api.handoff(session_id)  # answered: the job runs after, and dies

    async def died() -> bool:
        try:
            await api.session(session_id)
        except (aiohttp.ClientError, TimeoutError):
            return True
        return False

    await wait_for(died, what="the worker to die after linking the Case")
    life = await install.hosts.start(install.http)
    api = HostApi(install.http, life.base_url, ADMIN_TOKEN)
    await idle(install, life)
    case = case_for_session(install.org, session_id)
    assert case is not None  # the Case itself is there, once
    session = await api.session(session_id)
    assert session["metadata"].get("salesforce_case_id") == case["Id"]
