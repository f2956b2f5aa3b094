"""Two real host processes on one PostgreSQL schema (``store_url`` alone: the
sessions, the hook-call journal and the plugin's state all in it), and kill -9 of
one of them, again and again, during 100 handoffs sent to both.

Each killed life of host A is restarted; what the kill cut off is settled as a
careful bot would (it reads the session and hands off again only if the host
did not take it). Host B never stops, so its workers take over what A left
leased once the lease runs out (2 s, see ``fault_host_runner.py``). At the end:
every conversation has exactly one Case with its whole transcript, no comment
was written twice, and the shared outbox is empty.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest
from faults_kill_support import ForkServer, HostLife, Install
from faults_postgres_support import POSTGRES_URL, PostgresHostProcesses, drop_schema, fresh_schema
from faults_support import (
    ADMIN_TOKEN,
    EMPTY_OUTBOX,
    WATCH,
    HostApi,
    HostError,
    case_for_session,
    cases_by_session,
    comment_bodies,
    transcript_problems,
)

from opencx_salesforce.devhost.sessions import SESSIONS_NAMESPACE
from opencx_salesforce.devhost.waiting import wait_for
from opencx_salesforce.emulator.app import Emulator
from opencx_salesforce.emulator.seed import default_org
from opencx_salesforce.models import SessionStatus
from opencx_salesforce.runtime import OUTBOX_QUEUE
from opencx_salesforce.store.postgres import PostgresStore

pytestmark = pytest.mark.postgres

HANDOFFS = 100
ROUNDS = 10  # of HANDOFFS // ROUNDS handoffs each, half to each host
KILLED_ROUNDS = range(0, ROUNDS, 2)  # host A dies during every other round
SEED = 20261204
MAX_KILL_DELAY = 0.3


@pytest.fixture
async def pg_install(
    tmp_path: Path, http: aiohttp.ClientSession, fork_server: ForkServer
) -> AsyncIterator[Install]:
    schema = fresh_schema()
    emulator = Emulator()
    await emulator.start()
    org = emulator.state.add_org(default_org())
    hosts = PostgresHostProcesses(
        tmp_path,
        emulator.base_url,
        fork_server,
        store_url=f"{POSTGRES_URL}?schema={schema}&pool_max=4",
    )
    try:
        yield Install(emulator, org, hosts, http)
    finally:
        await hosts.close()
        WATCH.seen("the host processes' output (DEBUG)", hosts.output(), log=True)
        await emulator.close()
        await drop_schema(schema)


async def test_kill_9_of_one_of_two_hosts_during_100_handoffs_on_postgres(
    pg_install: Install,
) -> None:
    install = pg_install
    install.org.faults.latency_ms, install.org.faults.latency_jitter_ms = 20.0, 60.0
    rng = random.Random(SEED)
    hosts, http = install.hosts, install.http
    await hosts.connect()
    a, b = await hosts.start(http), await hosts.start(http)
    api_b = HostApi(http, b.base_url, ADMIN_TOKEN)

    # The conversations, written through B (the host that stays up).
    texts: dict[str, list[str]] = {}
    for n in range(HANDOFFS):
        session_id = await api_b.create_session(name=f"Customer {n}", email=f"c{n}@example.com")
        texts[session_id] = [f"[c{n:03d}-m{m}] where is my parcel" for m in range(3)]
        for m, text in enumerate(texts[session_id]):
            await api_b.post_message(session_id, "contact" if m != 1 else "bot", text)
    sessions = list(texts)

    kills = cut_off_total = resent = 0
    per_round = HANDOFFS // ROUNDS
    for round_ in range(ROUNDS):
        api_a = HostApi(http, a.base_url, ADMIN_TOKEN)
        batch = sessions[round_ * per_round : (round_ + 1) * per_round]
        killer = None
        if round_ in KILLED_ROUNDS:
            killer = asyncio.create_task(kill_after(hosts, a, rng.uniform(0, MAX_KILL_DELAY)))
        answers = await asyncio.gather(
            *(
                (api_a if i % 2 == 0 else api_b).handoff(session_id)
                for i, session_id in enumerate(batch)
            ),
            return_exceptions=True,
        )
        cut_off = [
            sid
            for sid, answer in zip(batch, answers, strict=True)
            if isinstance(answer, aiohttp.ClientError | TimeoutError)
        ]
        unexpected = [
            answer
            for answer in answers
            if isinstance(answer, BaseException)
            and not isinstance(answer, aiohttp.ClientError | TimeoutError)
        ]
        assert not unexpected, unexpected
        if killer is not None:
            await killer
            kills += 1
            a = await hosts.start(http)  # a new life of A: it replays its journal
        cut_off_total += len(cut_off)
        resent += await settle(api_b, cut_off)

    await drain(api_b)
    problems: list[str] = []
    per_session = cases_by_session(install.org)
    for session_id, lines in texts.items():
        if per_session[session_id] != 1:
            problems.append(f"{session_id}: {per_session[session_id]} Cases")
            continue
        case = case_for_session(install.org, session_id)
        assert case is not None
        session = await api_b.session(session_id)
        if session["metadata"].get("salesforce_case_id") != case["Id"]:
            problems.append(f"{session_id}: not linked to its Case")
        problems += [
            f"{session_id}: {problem}"
            for problem in transcript_problems(lines, comment_bodies(install.org, case["Id"]))
        ]
    status = await api_b.status()
    async with hosts.store() as store:
        left = await store.items(OUTBOX_QUEUE)
        # The hosts kept their sessions in PostgreSQL (store_url), not elsewhere.
        stored = set(await store.keys(SESSIONS_NAMESPACE))
        assert isinstance(store, PostgresStore)
    await hosts.kill(a)
    await hosts.kill(b)
    print(
        f"\nkill -9 of one of two hosts on PostgreSQL: handoffs: {HANDOFFS}, kills: {kills}, "
        f"handoffs cut off: {cut_off_total} (re-sent: {resent}), "
        f"cases: {sum(1 for s in texts if per_session[s] == 1)}, host lives: {hosts.lives}"
    )
    assert not problems, "\n".join(problems)
    assert kills == len(KILLED_ROUNDS)
    assert status["outbox"] == EMPTY_OUTBOX
    assert left == []
    assert stored == set(texts)


async def kill_after(hosts: PostgresHostProcesses, life: HostLife, delay: float) -> None:
    await asyncio.sleep(delay)
    await hosts.kill(life)


async def settle(api: HostApi, cut_off: list[str]) -> int:
    """Hand off again what a kill cut off before the host committed it."""
    resent = 0
    for session_id in cut_off:
        session = await api.session(session_id)
        if session["status"] != SessionStatus.HANDED_OFF:
            await api.handoff(session_id)
            resent += 1
    return resent


async def drain(api: HostApi) -> None:
    async def drained() -> bool:
        try:
            outbox = (await api.status())["outbox"]
        except HostError:
            return False
        return bool(outbox["pending"] == 0)

    await wait_for(drained, timeout=60, what="the shared outbox to drain")
