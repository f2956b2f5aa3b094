"""Salesforce on a bad day: an outage mid-stream, 503 storms with Retry-After,
UNABLE_TO_LOCK_ROW bursts, a revoked grant, expired sessions, the daily API limit.
Each delays work and never loses or duplicates it, and the admin can see what is
happening: the connection state (``TokenManager.status``), the outbox items with
their ``last_error``, ``/admin/status.json`` and the settings page.

The host runs in this process with the plugin and the emulator, driven over HTTP.
Where the plugin deliberately waits minutes (a revoked grant: 120 s, a spent daily
quota: 300 s) a test first checks that it does, then, to finish in seconds,
shortens that wait with ``monkeypatch`` and checks that the work completes.
"""

from __future__ import annotations

import asyncio
import dataclasses
import re
import time
from collections.abc import AsyncIterator

import aiohttp
import pytest
from faults_support import (
    HostApi,
    Talk,
    case_problems,
    connect_with_browser,
    talk,
    write_again,
)

from opencx_salesforce.devhost.stack import Stack, start_host, start_stack
from opencx_salesforce.devhost.waiting import wait_for
from opencx_salesforce.emulator.seed import DEMO_CLIENT_ID, DEMO_CLIENT_SECRET, default_org
from opencx_salesforce.outbox import policy
from opencx_salesforce.salesforce.errors import RequestLimitExceeded
from opencx_salesforce.salesforce.tokens import ConnectionState
from opencx_salesforce.store.base import ItemState, QueueItem
from opencx_salesforce.store.memory import MemoryStore

FAST = {"backoff_base_seconds": 0.05, "backoff_cap_seconds": 0.5, "sweep_interval_seconds": 3600}


def api_of(stack: Stack, http: aiohttp.ClientSession) -> HostApi:
    return HostApi(http, stack.host_url, stack.host.settings.admin_token_value())


async def pending(stack: Stack) -> list[QueueItem]:
    return [i for i in await stack.runtime.outbox.items() if i.state is not ItemState.DEAD]


async def drained(stack: Stack, timeout: float = 20.0) -> None:
    async def empty() -> bool:
        return not await stack.runtime.outbox.items()

    try:
        await wait_for(empty, timeout=timeout, what="the outbox to drain")
    except AssertionError:
        items = await stack.runtime.outbox.items()
        raise AssertionError(
            "the outbox did not drain: "
            + "; ".join(f"{i.item_id} {i.state} x{i.attempts}: {i.last_error}" for i in items)
        ) from None


async def handed_off(api: HostApi, tags: list[str]) -> list[Talk]:
    conversations = [await talk(api, tag) for tag in tags]
    for conversation in conversations:
        await api.handoff(conversation.session_id)
    return conversations


async def with_errors(stack: Stack, count: int, timeout: float = 10.0) -> list[QueueItem]:
    """Until ``count`` outbox items wait with a ``last_error``."""

    async def failing() -> list[QueueItem] | None:
        items = [i for i in await pending(stack) if i.last_error]
        return items if len(items) >= count else None

    found: list[QueueItem] = await wait_for(failing, timeout=timeout, what=f"{count} failures")
    return found


@pytest.fixture
async def web_stack(http: aiohttp.ClientSession) -> AsyncIterator[Stack]:
    """A stack connected the way an admin connects: the web server flow (so the
    grant carries a refresh token), through the settings routes and Salesforce's
    sign-in pages."""
    stack = await start_stack(store=MemoryStore(), plugin_settings=FAST, connect=False)
    try:
        await connect_admin(stack)
        yield stack
    finally:
        await stack.close()


async def connect_admin(stack: Stack) -> None:
    status = await connect_with_browser(
        stack.host_url,
        admin_token=stack.host.settings.admin_token_value(),
        login_url=stack.emulator.base_url,
        client_id=DEMO_CLIENT_ID,
        client_secret=DEMO_CLIENT_SECRET,
    )
    assert status["state"] == "connected", status


# --- outage -----------------------------------------------------------------------------


async def test_an_outage_mid_stream_delays_work_and_loses_none(
    fault_stack: Stack, http: aiohttp.ClientSession
) -> None:
    stack, api = fault_stack, api_of(fault_stack, http)
    before = await handed_off(api, [f"outage-a{n}" for n in range(5)])
    await drained(stack)

    # Salesforce goes down for maintenance (its HTML page, no end announced).
    stack.org.faults.maintenance_html = True
    stack.org.faults.begin_outage(stack.emulator.state.clock.now())
    during = await handed_off(api, [f"outage-b{n}" for n in range(5)])
    for conversation in before:
        await write_again(api, conversation)
    waiting = await with_errors(stack, 10)

    # What the admin sees meanwhile: connected, ten jobs waiting on a 503, none dead.
    assert all("HTTP 503" in str(i.last_error) for i in waiting), waiting[0].last_error
    assert all("Down for Maintenance" in str(i.last_error) for i in waiting)
    status = await api.status()
    assert status["state"] == "connected"
    assert status["outbox"]["pending"] == 10 and status["outbox"]["dead"] == 0
    page = await api.settings_page()
    assert "HTTP 503" in page and "Down for Maintenance" in page
    assert (await stack.runtime.tokens.status()).state is ConnectionState.CONNECTED
    assert len(list(stack.org.rows("Case", False))) == 5  # nothing got through

    stack.org.faults.end_outage()
    await drained(stack)
    print(
        f"\noutage: conversations: {len(before) + len(during)}, jobs that waited: "
        f"{len(waiting)}, cases: {len(list(stack.org.rows('Case', False)))}"
    )
    assert case_problems(stack.org, before + during) == []


# --- 503 storms with Retry-After ----------------------------------------------------------


async def test_a_503_with_retry_after_is_waited_out_not_hammered(
    fault_stack: Stack, http: aiohttp.ClientSession
) -> None:
    stack, api = fault_stack, api_of(fault_stack, http)
    stack.org.faults.retry_after = 1  # seconds; the outbox's own backoff caps at 0.5 s
    conversation = await talk(api, "retry-after")
    stack.org.faults.fail_next("503", 2)
    started = time.monotonic()
    await api.handoff(conversation.session_id)
    [item] = await with_errors(stack, 1)
    assert "SERVER_UNAVAILABLE" in str(item.last_error)
    assert item.available_at - time.time() > 0.5  # the next attempt waits ~1 s
    await drained(stack)
    elapsed = time.monotonic() - started
    print(f"\nRetry-After: 503s: 2 (Retry-After: 1 s), Case after {elapsed:.1f} s")
    assert elapsed >= 2.0, f"two Retry-After: 1 answers were retried after {elapsed:.2f} s"
    assert case_problems(stack.org, [conversation]) == []


async def test_a_503_storm_completes_every_handoff_once(
    fault_stack: Stack, http: aiohttp.ClientSession, caplog: pytest.LogCaptureFixture
) -> None:
    stack, api = fault_stack, api_of(fault_stack, http)
    conversations = [await talk(api, f"storm{n}") for n in range(8)]
    faults = stack.org.faults
    faults.retry_after, faults.error_kinds, faults.error_rate = 1, ("503",), 0.35
    faults.reseed(7)
    for conversation in conversations:
        await api.handoff(conversation.session_id)
    for conversation in conversations[:4]:
        await write_again(api, conversation)
    await drained(stack, timeout=30)
    faults.error_rate = 0.0
    waits = [
        float(m.group(1))
        for r in caplog.records
        if "SERVER_UNAVAILABLE" in r.getMessage()
        and (m := re.search(r"retrying in ([0-9.]+) s", r.getMessage()))
    ]
    print(
        f"\n503 storm: conversations: {len(conversations)}, 503s retried: {len(waits)}, "
        f"shortest wait: {min(waits, default=0):.1f} s, "
        f"cases: {len(list(stack.org.rows('Case', False)))}"
    )
    assert waits, "the storm should have hit some requests"
    assert min(waits) >= 1.0  # Retry-After honoured every time
    assert case_problems(stack.org, conversations) == []


async def test_an_outage_announced_longer_than_it_lasts_ends_when_a_probe_finds_the_org_back(
    fault_stack: Stack, http: aiohttp.ClientSession
) -> None:
    """Issue #15.8: Retry-After: 60 for a 5 s outage used to hold every handoff
    54 s after Salesforce was back. One probe at a time finds out early."""
    stack, api = fault_stack, api_of(fault_stack, http)
    conversations = [await talk(api, f"announced{n}") for n in range(20)]
    faults = stack.org.faults
    faults.retry_after, faults.error_kinds, faults.error_rate = 60, ("503",), 1.0
    for conversation in conversations:
        await api.handoff(conversation.session_id)
    await with_errors(stack, 1)
    gate = stack.runtime.outbox.gate
    assert gate.closed_until is not None and gate.closed_until - time.time() > 50
    await asyncio.sleep(5.0)  # the outage lasts 5 s
    faults.error_rate = 0.0
    back = time.monotonic()
    await drained(stack, timeout=30)
    late = time.monotonic() - back
    print(
        f"\nannounced outage: Retry-After: 60 s, outage: 5 s, handoffs: {len(conversations)}, "
        f"probes: {gate.probes}, last Case {late:.1f} s after Salesforce was back"
    )
    assert late < 10.0, f"the handoffs landed {late:.1f} s after Salesforce was back"
    # Not hammered meanwhile: the jobs in flight when it went down, then one probe
    # at a time at growing intervals (1 s, 2 s, 4 s…).
    assert gate.probes <= 4
    assert case_problems(stack.org, conversations) == []


async def test_work_held_by_an_announced_outage_counts_no_attempts_and_says_so(
    fault_stack: Stack, http: aiohttp.ClientSession
) -> None:
    """A held job used to be leased again every second: each look counted an
    attempt (the Outbox card said "attempt 300" after five minutes) and its next
    ordinary failure waited the backoff's cap. Held work now stays queued
    untouched; the page and status.json say why it waits."""
    stack, api = fault_stack, api_of(fault_stack, http)
    first, *rest = [await talk(api, f"held{n}") for n in range(6)]
    faults = stack.org.faults
    faults.retry_after, faults.error_kinds, faults.error_rate = 60, ("503",), 1.0
    await api.handoff(first.session_id)
    await with_errors(stack, 1)  # the gate is closed: Retry-After: 60
    for conversation in rest:
        await api.handoff(conversation.session_id)
    await asyncio.sleep(6.0)  # probes at 1 s and 3 s, each takes one held job
    items = await pending(stack)
    gate = stack.runtime.outbox.gate
    print(
        f"\nheld by an announced outage for 6 s: jobs: {len(items)}, "
        f"attempts: {sorted(i.attempts for i in items)}, probes: {gate.probes}"
    )
    assert len(items) == 6
    # Each job counted only what it sent: the first its 503, a probe its own.
    assert max(i.attempts for i in items) == 1, [(i.item_id, i.attempts) for i in items]
    assert sum(i.attempts for i in items) == 1 + gate.probes
    outage = (await api.status())["outbox"]["outage"]
    assert outage["until"] - time.time() > 50 and outage["probes"] == gate.probes
    assert 'id="outbox-outage"' in await api.settings_page()
    faults.error_rate = 0.0
    back = time.monotonic()
    await drained(stack, timeout=40)
    print(f"held by an announced outage: last Case {time.monotonic() - back:.1f} s after")
    assert case_problems(stack.org, [first, *rest]) == []
    assert (await api.status())["outbox"]["outage"] is None


# --- row locks ------------------------------------------------------------------------------


async def test_unable_to_lock_row_bursts_are_retried_without_duplicates(
    fault_stack: Stack, http: aiohttp.ClientSession
) -> None:
    stack, api = fault_stack, api_of(fault_stack, http)
    first = await handed_off(api, [f"lock-a{n}" for n in range(3)])
    await drained(stack)
    stack.org.faults.fail_next("lock", 6)  # the org's next six writes
    second = await handed_off(api, [f"lock-b{n}" for n in range(3)])
    for conversation in first:
        await write_again(api, conversation)
    locked = await with_errors(stack, 1)
    assert "UNABLE_TO_LOCK_ROW" in str(locked[0].last_error)
    await drained(stack, timeout=30)
    print(
        f"\nlock bursts: conversations: {len(first) + len(second)}, scripted lock failures: 6, "
        f"cases: {len(list(stack.org.rows('Case', False)))}"
    )
    assert case_problems(stack.org, first + second) == []


async def test_a_locked_append_keeps_the_contacts_messages_in_order(
    fault_stack: Stack, http: aiohttp.ClientSession
) -> None:
    stack, api = fault_stack, api_of(fault_stack, http)
    [conversation] = await handed_off(api, ["order"])
    await drained(stack)
    stack.org.faults.fail_next("lock", 1)
    await write_again(api, conversation)  # its append meets the lock
    await with_errors(stack, 1)
    await write_again(api, conversation)  # written after it, appended at once
    await drained(stack)
    assert case_problems(stack.org, [conversation]) == []


# --- the grant revoked ------------------------------------------------------------------


async def revoke_mid_stream(stack: Stack, api: HostApi) -> tuple[list[Talk], list[Talk]]:
    """Three handoffs go through; the admin's grant is revoked in Salesforce; three
    more handoffs and three re-engagements follow."""
    before = await handed_off(api, [f"revoke-a{n}" for n in range(3)])
    await drained(stack)
    stack.emulator.state.auth.revoke_all(stack.org.id)
    after = await handed_off(api, [f"revoke-b{n}" for n in range(3)])
    for conversation in before:
        await write_again(api, conversation)
    return before, after


async def test_a_revoked_grant_says_reconnect_and_keeps_the_work(
    web_stack: Stack, http: aiohttp.ClientSession
) -> None:
    stack, api = web_stack, api_of(web_stack, http)
    await revoke_mid_stream(stack, api)
    waiting = await with_errors(stack, 6)

    status = await stack.runtime.tokens.status()
    assert status.state is ConnectionState.NEEDS_REAUTHORIZATION
    assert status.reason and "invalid_grant" in status.reason
    published = await api.status()
    assert published["state"] == "needs_reauthorization"
    assert published["outbox"]["pending"] == 6 and published["outbox"]["dead"] == 0
    assert all("needs to be connected again" in str(i.last_error) for i in waiting)
    page = await api.settings_page()
    assert "needs to be connected again" in page
    # It waits for the admin (minutes), rather than burning attempts or dying.
    next_try = min(i.available_at for i in waiting) - time.time()
    print(f"\nrevoked grant: jobs waiting: {len(waiting)}, next attempt in {next_try:.0f} s")
    assert next_try > 60
    assert all(i.attempts == 1 for i in waiting)


async def test_reconnecting_resumes_the_waiting_work_promptly(
    web_stack: Stack, http: aiohttp.ClientSession
) -> None:
    stack, api = web_stack, api_of(web_stack, http)
    before, after = await revoke_mid_stream(stack, api)
    await with_errors(stack, 6)
    await connect_admin(stack)
    await drained(stack, timeout=3)
    assert case_problems(stack.org, before + after) == []


async def test_after_reconnecting_the_waiting_work_all_goes_through_once(
    web_stack: Stack, http: aiohttp.ClientSession, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(policy, "REAUTH_WAIT", 0.5)  # 120 s in production
    stack, api = web_stack, api_of(web_stack, http)
    before, after = await revoke_mid_stream(stack, api)
    await with_errors(stack, 6)

    async def waited_twice() -> bool:
        # Every job has met the missing grant at least twice: several rounds.
        items = await pending(stack)
        return len(items) == 6 and all(i.attempts >= 3 for i in items)

    await wait_for(waited_twice, what="every job to wait for the admin twice")
    assert await stack.runtime.outbox.items(ItemState.DEAD) == []
    assert (await api.status())["state"] == "needs_reauthorization"

    await connect_admin(stack)
    await drained(stack)
    status = await api.status()
    print(
        f"\nrevoked grant: conversations: {len(before) + len(after)}, jobs that waited for "
        f"the admin: 6, cases: {len(list(stack.org.rows('Case', False)))}"
    )
    assert status["state"] == "connected" and status["reason"] is None
    assert case_problems(stack.org, before + after) == []


# --- access tokens expired --------------------------------------------------------------


@pytest.mark.parametrize("grant", ["web server flow", "client credentials"])
async def test_expired_sessions_are_refreshed_once_and_work_goes_on(
    grant: str, http: aiohttp.ClientSession
) -> None:
    stack = await start_stack(
        store=MemoryStore(), plugin_settings=FAST, connect=grant == "client credentials"
    )
    try:
        if grant == "web server flow":
            await connect_admin(stack)
        api = api_of(stack, http)
        first = await handed_off(api, [f"expiry-{grant[:3]}-a{n}" for n in range(2)])
        await drained(stack)
        refreshes = stack.runtime.tokens.refreshes
        stack.emulator.state.auth.expire_access_tokens(stack.org.id)
        # Six jobs meet the expired session at once: one refresh serves them all.
        second = await handed_off(api, [f"expiry-{grant[:3]}-b{n}" for n in range(4)])
        for conversation in first:
            await write_again(api, conversation)
        await drained(stack)
        print(
            f"\nexpired sessions ({grant}): jobs: {len(first) + len(second)}, refreshes: "
            f"{stack.runtime.tokens.refreshes - refreshes}"
        )
        assert stack.runtime.tokens.refreshes - refreshes == 1
        assert stack.runtime.outbox.stats.retried == 0  # no job even noticed
        assert (await api.status())["state"] == "connected"
        assert case_problems(stack.org, first + second) == []
    finally:
        await stack.close()


async def test_sessions_timed_out_on_three_instances_are_refreshed_once_each_at_most() -> None:
    # The emulator's session timeout counts inactivity (oauth/store.py
    # AccessToken): three instances sharing one store and one client
    # credentials connection, idle past it, then all calling at once.
    store = MemoryStore()
    stack = await start_stack(store=store, plugin_settings=FAST)
    others = [
        await start_host(store=store, emulator_url=stack.emulator.base_url, plugin_settings=FAST)
        for _ in range(2)
    ]
    runtimes = [stack.runtime] + [plugin.runtime for _, plugin, _ in others]
    try:
        await asyncio.gather(*(runtime.client.limits() for runtime in runtimes))
        before = [runtime.tokens.refreshes for runtime in runtimes]
        stack.emulator.state.clock.advance(stack.org.seed.session_timeout + 1)
        await asyncio.gather(*(runtime.client.limits() for runtime in runtimes for _ in range(5)))
        refreshed = [r.tokens.refreshes - b for r, b in zip(runtimes, before, strict=True)]
        # One renewal serves all three: the others find it in the store.
        assert sum(refreshed) == 1, refreshed
        for runtime in runtimes:
            assert (await runtime.tokens.status()).state is ConnectionState.CONNECTED
    finally:
        for host, _, _ in others:
            await host.stop()
        await stack.close()


# --- the daily API limit ------------------------------------------------------------------


async def limited_stack(limit: int) -> Stack:
    seed = dataclasses.replace(default_org(), daily_api_limit=limit)
    return await start_stack(store=MemoryStore(), seed=seed, plugin_settings=FAST)


async def spend_quota(stack: Stack, api: HostApi, extra: int, tag: str) -> list[Talk]:
    """Hand off one conversation per API call left in the quota, then ``extra``
    more that meet REQUEST_LIMIT_EXCEEDED. One at a time: a lone handoff costs
    one composite call (handoffs that overlap would share one)."""
    left = stack.org.api_calls.remaining
    assert 0 < left < 20, left
    conversations = []
    for n in range(left):
        conversations += await handed_off(api, [f"{tag}{n}"])
        await drained(stack)
    assert stack.org.api_calls.exhausted
    return conversations + await handed_off(api, [f"{tag}-late{n}" for n in range(extra)])


async def test_a_spent_daily_limit_waits_minutes_and_is_not_dead_lettered(
    http: aiohttp.ClientSession,
) -> None:
    stack = await limited_stack(12)
    try:
        api = api_of(stack, http)
        await spend_quota(stack, api, 2, "quota")
        waiting = await with_errors(stack, 2)
        assert all("REQUEST_LIMIT_EXCEEDED" in str(i.last_error) for i in waiting)
        # A rolling 24-hour quota comes back slowly: the next attempt is minutes away.
        next_try = min(i.available_at for i in waiting) - time.time()
        print(f"\ndaily API limit: jobs refused: {len(waiting)}, next attempt in {next_try:.0f} s")
        assert next_try > 240
        status = await api.status()
        assert status["state"] == "connected"  # a quota problem, not a connection one
        assert status["outbox"]["pending"] == 2 and status["outbox"]["dead"] == 0
        assert "REQUEST_LIMIT_EXCEEDED" in await api.settings_page()
    finally:
        await stack.close()


async def test_work_held_by_the_daily_limit_completes_once_the_quota_is_back(
    http: aiohttp.ClientSession, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(RequestLimitExceeded, "DAILY_QUOTA_WAIT", 0.2)  # 300 s in production
    stack = await limited_stack(12)
    try:
        api = api_of(stack, http)
        conversations = await spend_quota(stack, api, 3, "limit")
        for conversation in conversations[:2]:
            await write_again(api, conversation)
        await with_errors(stack, 5)

        async def retried_a_few_times() -> bool:
            return all(i.attempts >= 3 for i in await pending(stack))

        await wait_for(retried_a_few_times, what="several refused attempts")
        assert len(await pending(stack)) == 5
        assert not await stack.runtime.outbox.items(ItemState.DEAD)

        # A day later the rolling window has room again (the sessions expired too).
        stack.emulator.state.clock.advance(25 * 3600)
        await drained(stack)
        print(
            f"\ndaily API limit: conversations: {len(conversations)}, jobs held: 5, cases: "
            f"{len(list(stack.org.rows('Case', False)))}, limit: {stack.org.api_calls.limit}"
        )
        assert case_problems(stack.org, conversations) == []
        assert (await api.status())["state"] == "connected"
    finally:
        await stack.close()
