"""A closed Case's keys are removed once it has been closed longer than
``retention_days`` (retention/), and nothing sooner: not an open Case's, not a
reopened one's, not one whose conversation still has work in the outbox. What
is left of a conversation is one small record per session the host still has,
so that a contact coming back gets a new Case linked to the old one.

The plugin runs on a ManualClock started at the real time (the webhook checks
timestamps on the real one); months pass by advancing it, and each test runs
the pass the background task would run."""

from __future__ import annotations

import contextlib
import logging
import time
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from prometheus_client import generate_latest
from replies_support import (
    Node,
    Rep,
    World,
    WorldFactory,
    agent_messages,
    case_of,
    handed_off,
    idle,
    ring,
    wait_for,
)

from opencx_salesforce.apex import contract
from opencx_salesforce.cases.closed_days import day_of, namespace
from opencx_salesforce.clock import ManualClock
from opencx_salesforce.models import HandoffReason, Role, Session, SessionStatus
from opencx_salesforce.retention.runner import RetentionRunner
from opencx_salesforce.retention.status import PassReport
from opencx_salesforce.runtime import OUTBOX_QUEUE
from opencx_salesforce.store import namespaces
from opencx_salesforce.store.base import Store
from opencx_salesforce.store.memory import MemoryStore
from opencx_salesforce.store.sqlite import SQLiteStore

DAY = 86400.0
UPDATED = contract.EVENT_CASE_UPDATED
COMMENTED = contract.EVENT_CASE_COMMENT_CREATED
# Keys that are not one Case's: they expire by themselves (TTL) or are the
# install's own (the sweep's state, the open list's "built" mark).
# (append_item, append_landed: an append's marks, which expire after 90 days.)
SHARED_OR_EXPIRING = (
    "own_body:",
    "clean:",
    "record:",
    "sweep:",
    "built",
    "append_item:",
    "append_landed:",
)


REDIS_URL = "redis://127.0.0.1:6379/0"
POSTGRES_URL = "postgresql://postgres@127.0.0.1:5432/test"


async def _open_store(kind: str, directory: Path, name: str = "") -> Store:
    """A store of ``kind``; ``name`` (Redis's prefix, PostgreSQL's schema)
    keeps a test's data apart on a shared server. (tests/store/store_backends.py
    has the same openers, but this suite does not put tests/store on its path,
    as faults_postgres_support.py says.)"""
    if kind == "memory":
        return MemoryStore()
    if kind == "sqlite":
        return await SQLiteStore.open(f"sqlite:///{directory / 'store.db'}")
    if kind == "redis":
        from opencx_salesforce.store.redis import RedisStore

        return await RedisStore.open(REDIS_URL, prefix=name)
    from opencx_salesforce.store.postgres import PostgresStore

    return await PostgresStore.open(f"{POSTGRES_URL}?schema={name}&pool_min=0&pool_max=2")


async def _drop(kind: str, name: str) -> None:
    """Remove what a test wrote on a shared server (and only that)."""
    if kind == "redis":
        import redis.asyncio as aioredis

        client = aioredis.Redis.from_url(REDIS_URL)
        try:
            leftovers = [key async for key in client.scan_iter(match=f"{name}*")]
            if leftovers:
                await client.delete(*leftovers)
        finally:
            await client.aclose()
    elif kind == "postgres":
        import asyncpg

        conn = await asyncpg.connect(POSTGRES_URL)
        try:
            await conn.execute(f'DROP SCHEMA IF EXISTS "{name}" CASCADE')
        finally:
            await conn.close()


@pytest.fixture(
    params=[
        "memory",
        "sqlite",
        pytest.param("redis", marks=pytest.mark.redis),
        pytest.param("postgres", marks=pytest.mark.postgres),
    ]
)
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Store]:
    # The servers are up wherever the suite runs (.ci/run starts them): a store
    # that does not open fails the test, as in tests/store.
    kind = str(request.param)
    name = f"opencx_test_retention_{uuid.uuid4().hex[:8]}"
    if kind == "redis":
        name = f"opencx-test:{name}:"
    opened = await _open_store(kind, tmp_path, name)
    try:
        yield opened
    finally:
        with contextlib.suppress(Exception):
            await opened.close()
        await _drop(kind, name)


async def _world(make_world: WorldFactory, store: Store) -> tuple[World, ManualClock]:
    """A host on a ManualClock, its background pass stopped: the test runs
    the passes (the background task's schedule is tested below)."""
    world = await make_world(store=store)
    clock = ManualClock(start=time.time())
    await world.start_node(clock=clock)
    runner = _retention(world)

    async def asleep() -> bool:  # its start-up pass done: stopped between passes
        return runner.status.passes + runner.status.passes_skipped > 0

    await wait_for(asleep, what="the start-up pass")
    await runner.stop()
    return world, clock


def _retention(world: World) -> RetentionRunner:
    runner = world.node.runtime.retention
    assert runner is not None
    return runner


async def _pass(world: World) -> PassReport:
    report = await _retention(world).run_once()
    assert report is not None
    return report


async def _closed_by_rep(world: World, session: Session) -> str:
    """The rep closes the session's Case; the plugin hears it and resolves it."""
    node = world.node
    case_id = await case_of(node, session.id)
    Rep(world.org).set_status(case_id, "Closed")
    await ring(world, node, UPDATED, case_id, case_id)

    async def resolved() -> bool:
        current = await node.host.get_session(session.id)
        return current is not None and current.status == SessionStatus.RESOLVED

    await wait_for(resolved, what="the session resolved")
    await idle(world)
    return case_id


async def _status_json_whole(node: Node) -> Any:
    """The settings page's ``status.json``, as a script reads it: its retention facts."""
    token = node.host.settings.admin_token.get_secret_value()
    async with (
        aiohttp.ClientSession() as http,
        http.get(
            f"{node.url}/integrations/salesforce/admin/status.json",
            headers={"Authorization": f"Bearer {token}"},
        ) as answer,
    ):
        assert answer.status == 200
        return (await answer.json())["retention"]


async def _status_json(node: Node) -> dict[str, Any]:
    facts = await _status_json_whole(node)
    assert isinstance(facts, dict)
    return facts


async def _keys_naming(store: Store, *names: str) -> list[str]:
    """The plugin's keys that name one of ``names`` (a Case, a session, a
    contact), or that are one Case's (not shared, not expiring)."""
    found = []
    for ns in (namespaces.CASES, namespaces.REPLIES, namespaces.OPEN_CASES):
        for key in await store.keys(ns):
            if key.startswith(SHARED_OR_EXPIRING):
                continue
            found.append(f"{ns} {key}")
    return [k for k in found if any(n[:15] in k for n in names) or "open:" in k]


async def test_a_closed_cases_keys_go_after_retention_days_and_its_contact_gets_a_new_case(
    make_world: WorldFactory, store: Store, caplog: pytest.LogCaptureFixture
) -> None:
    world, clock = await _world(make_world, store)
    node = world.node
    session = await handed_off(node, email="ana@example.com")
    case_id = await case_of(node, session.id)
    # The contact writes again (an append), the rep answers, then closes.
    await node.host.post_message(session.id, Role.CONTACT, "It was a blue box.")
    rep = Rep(world.org)

    async def appended() -> bool:
        rows = world.org.rows("CaseComment", False)
        return any("blue box" in r["CommentBody"] for r in rows if r["ParentId"] == case_id)

    await wait_for(appended, what="the append on the Case")
    reply = rep.comment(case_id, "Found it, it is on its way back to you.")
    await ring(world, node, COMMENTED, case_id, reply)
    await _closed_by_rep(world, session)
    assert len(await agent_messages(node, session.id)) == 1
    kept = await _keys_naming(store, case_id, session.id, "ana@example.com")
    assert any(k.endswith(f"case:{case_id}") for k in kept), kept

    clock.advance(179 * DAY)  # not yet: closed 179 days ago
    report = await _pass(world)
    assert report.cases_purged == 0
    assert await _keys_naming(store, case_id, session.id, "ana@example.com") == kept

    clock.advance(2 * DAY)  # 181 days after it closed
    with caplog.at_level(logging.INFO, logger="opencx_salesforce.retention"):
        report = await _pass(world)
    said = [r.getMessage() for r in caplog.records if r.name.startswith("opencx_salesforce.ret")]
    assert any(m.startswith("retention: removed the keys of 1 Case(s) closed before") for m in said)
    assert (report.cases_purged, report.cases_kept) == (1, 0)
    assert report.keys_removed >= 10
    left = await _keys_naming(store, case_id, session.id, "ana@example.com")
    # What is left: the session's small record (the host still has it).
    assert left == [f"{namespaces.CASES} purged:{session.id}"], left
    assert await store.keys(namespace(day_of(time.time()))) == []
    status = _retention(world).status
    assert (status.cases_purged, status.keys_removed) == (1, report.keys_removed)
    scraped = generate_latest(node.runtime.metrics.registry).decode()
    assert "opencx_salesforce_retention_cases_purged_total 1.0" in scraped
    assert 'opencx_salesforce_retention_passes_total{result="done"}' in scraped
    facts = await _status_json(node)
    assert facts["retention_days"] == 180
    assert (facts["cases_purged"], facts["keys_removed"]) == (1, report.keys_removed)
    assert facts["last_pass"]["cases_purged"] == 1 and facts["last_error"] is None

    # A rep reopening and writing on the purged Case reaches nobody: the
    # plugin no longer knows it (said in docs/operations.md).
    rep.set_status(case_id, "Working")
    late = rep.comment(case_id, "Any news on this one?")
    await ring(world, node, COMMENTED, case_id, late)
    await idle(world)
    assert len(await agent_messages(node, session.id)) == 1
    assert node.runtime.reply_status.skipped_records["unknown case"] >= 1
    rep.set_status(case_id, "Closed")

    # The contact comes back on the same conversation and is handed off again:
    # a new Case linked to the old one, with the new words, not the old Case's
    # external id upserted again.
    await node.host.post_message(session.id, Role.CONTACT, "The box came back empty!")
    await node.host.handoff(session.id, HandoffReason(code="requested"))

    async def moved() -> str | None:
        current = await node.host.get_session(session.id)
        assert current is not None
        now = current.metadata.get("salesforce_case_id")
        return str(now) if now and now != case_id else None

    new_case = str(await wait_for(moved, what="a new Case"))
    case = world.org.get("Case", new_case)
    assert case is not None and case["ParentId"] == case_id and not case["IsClosed"]
    bodies = [c["CommentBody"] for c in world.org.rows("CaseComment", False)]
    on_new = [
        c["CommentBody"] for c in world.org.rows("CaseComment", False) if c["ParentId"] == new_case
    ]
    assert any("came back empty" in b for b in on_new), bodies
    old = world.org.get("Case", case_id)
    assert old is not None and old["IsClosed"]


async def test_a_contact_writing_to_a_purged_conversation_gets_a_new_case(
    make_world: WorldFactory,
) -> None:
    """The append path: the host calls on_contact_reengage for a session whose
    Case was forgotten (a host that kept the conversation open with the rep).
    The words go to a new Case linked to the old one, at once."""
    world, clock = await _world(make_world, MemoryStore())
    node = world.node
    session = await handed_off(node)
    case_id = await _closed_by_rep(world, session)
    clock.advance(181 * DAY)
    assert (await _pass(world)).cases_purged == 1

    words = await node.host.post_message(session.id, Role.CONTACT, "Are you still there?")
    current = await node.host.get_session(session.id)
    assert current is not None
    await node.plugin.on_contact_reengage(current, [words])

    async def moved() -> str | None:
        now = await node.host.get_session(session.id)
        assert now is not None
        linked = now.metadata.get("salesforce_case_id")
        return str(linked) if linked and linked != case_id else None

    new_case = str(await wait_for(moved, timeout=10.0, what="a new Case"))
    case = world.org.get("Case", new_case)
    assert case is not None and case["ParentId"] == case_id
    rows = world.org.rows("CaseComment", False)
    on_new = [c["CommentBody"] for c in rows if c["ParentId"] == new_case]
    assert any("Are you still there?" in b for b in on_new)


async def test_nothing_is_purged_of_an_open_a_reopened_or_a_busy_case(
    make_world: WorldFactory,
) -> None:
    store = MemoryStore()
    world, clock = await _world(make_world, store)
    node = world.node
    index = node.runtime.index
    still_open = await handed_off(node)
    reopened = await handed_off(node)
    busy = await handed_off(node)
    for session in (reopened, busy):
        await _closed_by_rep(world, session)
    reopened_case = await case_of(node, reopened.id)
    Rep(world.org).set_status(reopened_case, "Working")
    await ring(world, node, UPDATED, reopened_case, reopened_case)

    async def open_again() -> bool:
        entry = await index.case(reopened_case)
        return entry is not None and not entry.closed

    await wait_for(open_again, what="the index to say open again")
    # Work of the busy conversation waits in the outbox (a dead letter an admin
    # may still retry counts too).
    await store.enqueue(OUTBOX_QUEUE, f"append:{busy.id}:m_late", b"{}", delay=10 * 365 * DAY)

    clock.advance(400 * DAY)
    report = await _pass(world)
    assert report.cases_purged == 0
    assert report.cases_kept == 1  # the busy one
    for session in (still_open, reopened, busy):
        assert await index.case(await case_of(node, session.id)) is not None

    # The work done, the busy Case goes at the next pass.
    await store.hurry(OUTBOX_QUEUE, f"append:{busy.id}:m_late")
    leases = await store.lease(OUTBOX_QUEUE, visibility_timeout=60)
    assert [lease.item_id for lease in leases] == [f"append:{busy.id}:m_late"]
    await store.ack(leases[0])
    report = await _pass(world)
    assert report.cases_purged == 1
    assert await index.case(await case_of(node, busy.id)) is None
    assert await index.case(reopened_case) is not None


async def test_a_case_closed_again_is_kept_from_its_last_closing(
    make_world: WorldFactory,
) -> None:
    world, clock = await _world(make_world, MemoryStore())
    node = world.node
    session = await handed_off(node)
    case_id = await _closed_by_rep(world, session)
    clock.advance(100 * DAY)
    rep = Rep(world.org)
    rep.set_status(case_id, "Working")
    await ring(world, node, UPDATED, case_id, case_id)

    async def open_again() -> bool:
        entry = await node.runtime.index.case(case_id)
        return entry is not None and not entry.closed

    await wait_for(open_again, what="the index to say open again")
    await node.host.post_message(session.id, Role.CONTACT, "Still broken.")
    await idle(world)
    rep.set_status(case_id, "Closed")
    await ring(world, node, UPDATED, case_id, case_id)

    async def closed_again() -> bool:
        entry = await node.runtime.index.case(case_id)
        return entry is not None and entry.closed

    await wait_for(closed_again, what="the second closing")
    await idle(world)

    clock.advance(100 * DAY)  # 200 days after the first closing, 100 after the last
    assert (await _pass(world)).cases_purged == 0
    assert await node.runtime.index.case(case_id) is not None
    clock.advance(81 * DAY)  # 181 after the last
    assert (await _pass(world)).cases_purged == 1
    assert await node.runtime.index.case(case_id) is None


async def _as_an_earlier_release_left_it(store: Store, case_id: str, clock: ManualClock) -> None:
    """The entry says closed; no closing time, no day's listing (listed under
    its closing's day, or the cursor's when that is later)."""
    await store.delete(namespaces.CASES, f"closed_at:{case_id}")
    oldest = await store.get(namespaces.RETENTION, "oldest_day")
    for day in {day_of(clock.time()), *([oldest.decode()] if oldest else [])}:
        await store.delete(namespace(day), case_id)


@pytest.mark.parametrize("kind", ["memory", "sqlite"])
async def test_cases_closed_before_this_release_go_retention_days_after_the_upgrade(
    make_world: WorldFactory, kind: str, tmp_path: Path
) -> None:
    store = await _open_store(kind, tmp_path)
    try:
        world, clock = await _world(make_world, store)
        node = world.node
        index = node.runtime.index
        before = await _closed_by_rep(world, await handed_off(node))
        await _as_an_earlier_release_left_it(store, before, clock)
        await store.delete(namespaces.RETENTION, "upgraded")  # never upgraded
        await store.delete(namespaces.RETENTION, "oldest_day")

        clock.advance(300 * DAY)  # long closed, but when is unknown: kept from now
        assert (await _pass(world)).cases_purged == 0
        assert await index.case(before) is not None
        # During a rolling upgrade, an instance of the earlier release closes
        # another: the walk a week later finds it.
        during = await _closed_by_rep(world, await handed_off(node))
        await _as_an_earlier_release_left_it(store, during, clock)
        clock.advance(8 * DAY)
        assert (await _pass(world)).cases_purged == 0
        clock.advance(174 * DAY)  # 182 days after the upgrade, 174 after the second walk
        assert (await _pass(world)).cases_purged == 1
        assert await index.case(before) is None
        assert await index.case(during) is not None
        clock.advance(7 * DAY)
        assert (await _pass(world)).cases_purged == 1
        assert await index.case(during) is None
    finally:
        await store.close()


async def test_the_background_task_passes_four_times_a_day_whatever_the_instances(
    make_world: WorldFactory,
) -> None:
    store = MemoryStore()
    world = await make_world(store=store)
    clock = ManualClock(start=time.time())
    nodes = [await world.start_node(clock=clock) for _ in range(2)]
    runners = [node.runtime.retention for node in nodes]

    def looked() -> int:
        return sum(r.status.passes + r.status.passes_skipped for r in runners if r)

    def done() -> int:
        return sum(r.status.passes for r in runners if r)

    async def started() -> bool:
        return looked() >= 2

    await wait_for(started, what="the start-up passes")
    start = done()
    for hours in range(6, 25, 6):
        before = looked()
        clock.advance(6 * 3600)

        async def both_looked(before: int = before) -> bool:
            return looked() >= before + 2

        await wait_for(both_looked, what=f"the passes at {hours} h")
    # Four turns in a day, one pass each, whichever instance took it.
    assert done() - start == 4


async def test_instances_take_turns(make_world: WorldFactory) -> None:
    store = MemoryStore()
    world = await make_world(store=store)
    clock = ManualClock(start=time.time())
    first = await world.start_node(clock=clock)
    second = await world.start_node(clock=clock)
    one, two = first.runtime.retention, second.runtime.retention
    assert one is not None and two is not None
    mine = await one.run_once()
    assert mine is not None
    # The other's wait began before that pass: its turn was taken.
    assert await two.run_once(after=mine.started_at - 1) is None
    assert two.status.passes_skipped >= 1
    clock.advance(6 * 3600)
    assert await two.run_once(after=mine.started_at) is not None


async def test_retention_off_keeps_everything(make_world: WorldFactory) -> None:
    world = await make_world(retention_days=0)
    await world.start_node()
    assert world.node.runtime.retention is None
    assert await _status_json_whole(world.node) is None  # status.json: nothing removed
