"""Group commit for appends: a contact who writes again on an open Case is one
composite call when alone; appends ready while one is in flight go together in
one composite call (their comments, then one read of every Case's state), and
one append's trouble stays its own."""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from collections.abc import AsyncIterator
from typing import Any

import pytest
from handoff_support import api_calls, case_id_of, cases, comments_of, converse

from opencx_salesforce.cases import plan
from opencx_salesforce.cases.append_batch import AppendBatcher
from opencx_salesforce.devhost.stack import Stack, start_stack
from opencx_salesforce.devhost.waiting import wait_for
from opencx_salesforce.models import Contact, Role
from opencx_salesforce.salesforce.errors import ValidationFailed
from opencx_salesforce.salesforce.subrequests import Subrequest, SubResponse
from opencx_salesforce.store.base import ItemState
from opencx_salesforce.store.memory import MemoryStore

SETTINGS = {
    "backoff_base_seconds": 0.05,
    "backoff_cap_seconds": 0.2,
    "outbox_concurrency": 100,
}


@pytest.fixture
async def stack() -> AsyncIterator[Stack]:
    stack = await start_stack(store=MemoryStore(), plugin_settings=SETTINGS)
    try:
        yield stack
    finally:
        await stack.close()


def _appends(stack: Stack) -> AppendBatcher:
    return stack.runtime.cases.appends


async def _open_cases(stack: Stack, count: int) -> dict[str, str]:
    """``count`` conversations handed off: session id → its Case."""
    sessions = [
        await converse(
            stack.host,
            texts=[f"c{n}: where is my parcel?"],
            contact=Contact(name=f"Person {n}", email=f"c{n}@example.com"),
        )
        for n in range(count)
    ]
    await asyncio.gather(*(stack.host.handoff(s.id) for s in sessions))
    return {s.id: await case_id_of(stack.host, s.id, timeout=60) for s in sessions}


async def _jobs_done(stack: Stack) -> None:
    async def done() -> bool:
        return not await stack.runtime.outbox.items()

    await wait_for(done, timeout=30, what="every job to finish")


def _bodies(stack: Stack, case_id: str) -> list[str]:
    return [c["CommentBody"] for c in comments_of(stack, case_id)]


def _endpoints(stack: Stack) -> Counter[str]:
    return Counter({k: v for k, v in stack.org.api_calls.by_endpoint.items() if v})


async def _write(stack: Stack, session_ids: list[str], text: str) -> None:
    await asyncio.gather(
        *(stack.host.post_message(s, Role.CONTACT, f"{text} ({s})") for s in session_ids)
    )


async def _first_in_flight(stack: Stack, session_id: str) -> None:
    """``session_id``'s contact writes ("First"); back once its append is in
    flight (with latency injected, the appends written next wait for it)."""
    appends = _appends(stack)
    before = appends.stats.requests

    async def in_flight() -> bool:
        return appends.stats.requests > before

    await _write(stack, [session_id], "First")
    await wait_for(in_flight, what="the first append in flight")


async def test_a_lone_append_is_one_composite_request(stack: Stack) -> None:
    ((session_id, case_id),) = (await _open_cases(stack, 1)).items()
    await _jobs_done(stack)
    before = api_calls(stack)
    await _write(stack, [session_id], "Any news?")
    await _jobs_done(stack)
    assert api_calls(stack) - before == 1, _endpoints(stack)
    assert _appends(stack).stats.batches == 0
    assert sum(f"Any news? ({session_id})" in b for b in _bodies(stack, case_id)) == 1


async def test_a_burst_of_60_appends_reaches_salesforce_in_a_few_requests(stack: Stack) -> None:
    by_session = await _open_cases(stack, 60)
    await _jobs_done(stack)
    stack.org.faults.latency_ms = 20  # a round trip, so the burst meets a request in flight
    before = api_calls(stack)
    await _write(stack, list(by_session), "Any news?")
    await _jobs_done(stack)
    assert api_calls(stack) - before <= 6, _endpoints(stack)
    assert _appends(stack).stats.batches >= 1
    for session_id, case_id in by_session.items():
        bodies = _bodies(stack, case_id)
        assert sum(f"Any news? ({session_id})" in b for b in bodies) == 1, bodies
        assert not any(
            f"Any news? ({other})" in b
            for other in by_session
            if other != session_id
            for b in bodies
        )


async def test_a_refused_append_leaves_the_others_of_its_batch_landed_and_is_retried(
    stack: Stack,
) -> None:
    by_session = await _open_cases(stack, 12)
    await _jobs_done(stack)
    sessions = list(by_session)
    held = sessions[5]
    stack.org.faults.latency_ms = 150  # the first append is in flight while the rest queue
    stack.org.faults.lock_record(by_session[held])  # its comments look up to a held Case
    appends = _appends(stack)
    await _first_in_flight(stack, sessions[0])
    await _write(stack, sessions[1:], "Then")

    async def others_landed() -> bool:
        return all(
            any(f"Then ({s})" in b for b in _bodies(stack, by_session[s]))
            for s in sessions[1:]
            if s != held
        )

    await wait_for(others_landed, timeout=30, what="the others of the batch")
    assert appends.stats.batches >= 1
    assert not any(f"Then ({held})" in b for b in _bodies(stack, by_session[held]))

    async def retried() -> bool:
        items = await stack.runtime.outbox.items()
        return any(i.item_id.startswith(f"append:{held}:") and i.attempts >= 2 for i in items)

    await wait_for(retried, what="the held append to be retried")
    assert await stack.runtime.outbox.items(ItemState.DEAD) == []
    stack.org.faults.unlock_record(by_session[held])
    await _jobs_done(stack)
    for session_id, case_id in by_session.items():
        text = "First" if session_id == sessions[0] else "Then"
        assert sum(f"{text} ({session_id})" in b for b in _bodies(stack, case_id)) == 1


async def test_a_case_closed_meanwhile_sends_only_its_append_to_a_follow_up(stack: Stack) -> None:
    """Each append of a batch reads its own Case's state after its words: the
    one whose Case a rep closed gets a follow-up Case; the others stay put."""
    by_session = await _open_cases(stack, 10)
    await _jobs_done(stack)
    sessions = list(by_session)
    closed = sessions[3]
    # Closed in Salesforce; the plugin has not heard (no webhook, no sweep yet).
    stack.org.update("Case", by_session[closed], {"Status": "Closed"})
    stack.org.faults.latency_ms = 150
    appends = _appends(stack)
    await _first_in_flight(stack, sessions[0])
    await _write(stack, sessions[1:], "Then")
    await _jobs_done(stack)
    assert appends.stats.batches >= 1

    follow_up = await _new_case_of(stack, closed, by_session[closed])
    record = stack.org.get("Case", follow_up)
    assert record is not None and record["ParentId"] == by_session[closed]
    assert any(f"Then ({closed})" in b for b in _bodies(stack, follow_up))
    for session_id in sessions[1:]:
        if session_id != closed:
            assert (
                sum(f"Then ({session_id})" in b for b in _bodies(stack, by_session[session_id]))
                == 1
            )
    assert len(cases(stack)) == 11


async def _new_case_of(stack: Stack, session_id: str, old_case: str) -> str:
    async def relinked() -> str | None:
        current = await stack.host.get_session(session_id)
        value = current.metadata.get("salesforce_case_id") if current else None
        return str(value) if value and value != old_case else None

    return str(await wait_for(relinked, what="the follow-up Case"))


async def test_a_batch_that_fails_whole_is_retried_and_lands_once(stack: Stack) -> None:
    by_session = await _open_cases(stack, 8)
    await _jobs_done(stack)
    sessions = list(by_session)
    stack.org.faults.latency_ms = 150
    appends = _appends(stack)
    await _first_in_flight(stack, sessions[0])
    stack.org.faults.fail_next("500")  # the batch that follows: a 500
    await _write(stack, sessions[1:], "Then")
    await _jobs_done(stack)
    assert appends.stats.batches >= 1
    for session_id in sessions[1:]:
        bodies = _bodies(stack, by_session[session_id])
        assert sum(f"Then ({session_id})" in b for b in bodies) == 1, bodies
    assert await stack.runtime.outbox.items(ItemState.DEAD) == []


async def test_a_batch_keeps_to_the_composite_limits_and_its_byte_budget(stack: Stack) -> None:
    """2,400 comments from 300 appends at once, a batch taking up to 100: each
    request holds at most four collections of 200 and the state query
    (Salesforce refuses a composite with more than five), so three batches after
    the first; with a small byte budget, more requests of fewer appends. Every
    comment lands once."""
    by_session = await _open_cases(stack, 30)
    await _jobs_done(stack)
    case_ids = list(by_session.values())
    stack.org.faults.latency_ms = 20

    async def burst(batcher: AppendBatcher, tag: str, appends: int) -> None:
        answers = await asyncio.gather(
            *(
                batcher.send(
                    case_ids[n % len(case_ids)],
                    plan.comment_records(
                        case_ids[n % len(case_ids)],
                        [f"{tag} {n}.{k} " + "x" * 200 for k in range(8)],
                        published=False,
                    ),
                )
                for n in range(appends)
            )
        )
        for answer in answers:
            results = answer[plan.APPEND_COMMENTS_REF].body
            assert [r["success"] for r in results] == [True] * 8, results
            (state,) = answer[plan.CASE_STATE_REF].body["records"]
            assert state["IsClosed"] is False

    wide = AppendBatcher(stack.runtime.client, max_appends=100)
    before = api_calls(stack)
    await burst(wide, "wide", 300)
    assert wide.stats.requests == api_calls(stack) - before == 4, _endpoints(stack)

    # About 3,000 bytes an append: 10 a request, the first alone.
    narrow = AppendBatcher(stack.runtime.client, max_appends=100, max_bytes=30_000)
    before = api_calls(stack)
    await burst(narrow, "narrow", 60)
    assert narrow.stats.requests == api_calls(stack) - before == 1 + 6

    bodies = Counter(b for case_id in case_ids for b in _bodies(stack, case_id))
    assert sum(1 for b in bodies if b.startswith(("wide ", "narrow "))) == 360 * 8
    assert set(bodies.values()) == {1}


async def test_a_batch_of_appends_refused_whole_is_halved_until_only_the_one_at_fault_fails(
    stack: Stack, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A request-level 400 failed every append of the batch with the one at
    # fault: the contacts' words dead-lettered. Injected at the client: the
    # request fails whole whenever it carries the poisoned words.
    by_session = await _open_cases(stack, 12)
    await _jobs_done(stack)
    client = stack.runtime.client
    send = client.composite

    async def refusing(requests: list[Subrequest], **options: Any) -> list[SubResponse]:
        if any("POISON" in str(r.body) for r in requests):
            raise ValidationFailed(
                "Unexpected character", status=400, error_code="JSON_PARSER_ERROR"
            )
        return await send(requests, **options)

    monkeypatch.setattr(client, "composite", refusing)
    sessions = list(by_session)
    stack.org.faults.latency_ms = 20  # a round trip, so the rest meet a request in flight
    await _first_in_flight(stack, sessions[0])
    with caplog.at_level(logging.WARNING, logger="opencx_salesforce.cases.append_batch"):
        await asyncio.gather(
            *(
                stack.host.post_message(s, Role.CONTACT, "POISON" if n == 5 else f"Any news? ({s})")
                for n, s in enumerate(sessions[1:], start=1)
            )
        )

        async def settled() -> bool:
            items = await stack.runtime.outbox.items()
            return all(item.state is ItemState.DEAD for item in items)

        await wait_for(settled, timeout=30, what="every append landed or dead")
    assert "appends was refused whole" in caplog.text
    [dead] = await stack.runtime.outbox.items(ItemState.DEAD)
    assert dead.item_id.startswith(f"append:{sessions[5]}:")
    for n, session_id in enumerate(sessions[1:], start=1):
        if n != 5:
            bodies = _bodies(stack, by_session[session_id])
            assert sum(f"Any news? ({session_id})" in b for b in bodies) == 1, bodies


def test_an_append_waiting_for_its_case_looks_again_less_and_less_often() -> None:
    # Behind a handoff a dead instance still holds (two minutes of lease), an
    # append looked every half second: 240 looks, most of a surviving instance's work.
    from opencx_salesforce.cases.service import _case_wait
    from opencx_salesforce.outbox.queue import Job

    def wait(attempts: int) -> float:
        return _case_wait(Job("append", "append:s:m", {}, attempts, 0.0, 0.0))

    assert [wait(n) for n in (1, 2, 4, 10, 100)] == [0.5, 1.0, 2.0, 5.0, 5.0]
    looks, waited = 0, 0.0
    while waited < 120.0:
        looks += 1
        waited += wait(looks)
    assert looks < 40
