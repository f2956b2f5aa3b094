"""kill -9 of the host process at random points during handoffs and
re-engagements: after a restart and the outbox draining, every conversation has
exactly one Case with its whole transcript, each message exactly once, in order.

The host is a real process (``opencx-salesforce serve`` on a SQLite file, through
the fork server ``fault_host_runner.py``), driven over its JSON API as a bot would
drive it; the emulator runs in this process, a little slow (20-80 ms a call) so
that kills land in the middle of Salesforce calls as well as of host requests.

A request the kill cut off is settled the way a careful bot settles it after the
restart: it reads the session, and sends again only what the host does not have.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
from collections import Counter
from dataclasses import dataclass, field

import aiohttp
from faults_kill_support import HostLife, HostProcesses, Install
from faults_support import (
    ADMIN_TOKEN,
    EMPTY_OUTBOX,
    HostApi,
    HostError,
    case_for_session,
    cases_by_session,
    comment_bodies,
    transcript_problems,
)

from opencx_salesforce.cases.index import CaseIndex
from opencx_salesforce.devhost.journal import HookJournal
from opencx_salesforce.devhost.sessions import SessionRepository
from opencx_salesforce.devhost.waiting import wait_for
from opencx_salesforce.emulator.org import Org
from opencx_salesforce.models import Role, SessionStatus
from opencx_salesforce.runtime import OUTBOX_QUEUE
from opencx_salesforce.store.base import ItemState, Store

TRIALS = 50
SEED = 20261125
MAX_KILL_DELAY = 0.3
# Known bugs, each pinned by an xfail(strict=True) test. This test counts what it
# sees of them; set a flag to True once its bug is fixed and the property is
# asserted here too.
HOOK_WINDOW_CLOSED = True  # test_kill_host_windows.py
CASE_ID_SURVIVES_A_CRASH = True  # test_kill_host_windows.py
APPENDS_KEEP_ORDER = True  # test_salesforce_faults.py, the UNABLE_TO_LOCK_ROW test
WORDS = ("parcel", "refund", "tracking", "courier", "invoice", "address", "damaged", "late")


@dataclass
class Conversation:
    number: int
    session_id: str
    handed_off: bool = False
    rounds: int = 0
    initial: list[str] = field(default_factory=list)  # written before the handoff
    lost: bool = False  # its handoff fell in the known host → plugin window


@dataclass
class Op:
    kind: str  # "handoff" or "reengage"
    conversation: Conversation
    text: str = ""


@dataclass
class Tally:
    kills: int = 0
    cut_off: int = 0  # requests the kill cut off (no answer)
    in_flight: int = 0  # outbox jobs leased (mid-work) when the host died
    kills_mid_job: int = 0
    resent: int = 0
    lost_in_window: list[str] = field(default_factory=list)
    lost_texts: set[str] = field(default_factory=set)


def text_for(rng: random.Random, conversation: int, n: int) -> str:
    words = " ".join(rng.choice(WORDS) for _ in range(rng.randint(2, 6)))
    return f"[c{conversation:03d}-m{n:02d}] {words}"


async def test_kill_9_during_handoffs_and_reengagements_loses_and_duplicates_nothing(
    install: Install,
) -> None:
    # Slow enough that a kill often lands while a composite is on the wire.
    install.org.faults.latency_ms, install.org.faults.latency_jitter_ms = 20.0, 60.0
    rng = random.Random(SEED)
    hosts, http = install.hosts, install.http
    await hosts.connect()
    conversations: list[Conversation] = []
    cut_off: list[Op] = []
    tally = Tally()
    message_counter: Counter[int] = Counter()
    seen_leases: set[tuple[str, int]] = set()

    for _ in range(TRIALS):
        life = await hosts.start(http)
        api = HostApi(http, life.base_url, ADMIN_TOKEN)
        tally.resent += await settle(api, cut_off)
        cut_off = []

        # A new conversation, then the batch the kill falls into: its handoff and
        # re-engagements of earlier handed-off conversations.
        number = len(conversations)
        session_id = await api.create_session(
            name=f"Customer {number}", email=f"customer{number}@example.com"
        )
        conversation = Conversation(number, session_id)
        conversations.append(conversation)
        for n in range(rng.randint(3, 6)):
            message_counter[number] += 1
            role = "contact" if n % 2 == 0 else "bot"
            text = text_for(rng, number, n)
            await api.post_message(session_id, role, text)
            conversation.initial.append(text)
        ops = [Op("handoff", conversation)]
        earlier = [c for c in conversations if c.handed_off and not c.lost and c.rounds < 3]
        for other in rng.sample(earlier, min(len(earlier), rng.randint(1, 3))):
            other.rounds += 1
            for _ in range(rng.randint(1, 2)):
                n = message_counter[other.number]
                message_counter[other.number] += 1
                ops.append(Op("reengage", other, text_for(rng, other.number, n)))

        kill_at, delay = rng.randrange(len(ops)), rng.uniform(0, MAX_KILL_DELAY)
        killer: asyncio.Task[None] | None = None
        for index, op in enumerate(ops):
            if index == kill_at:
                killer = asyncio.create_task(kill_after(hosts, life, delay))
            try:
                await perform(api, op)
            except (aiohttp.ClientError, TimeoutError):
                cut_off.append(op)
        assert killer is not None
        await killer
        tally.kills += 1
        tally.cut_off += len(cut_off)
        async with hosts.store() as store:
            # Leased this life (a lease taken again counts one more attempt).
            leased = {
                (item.item_id, item.attempts)
                for item in await store.items(OUTBOX_QUEUE, ItemState.LEASED)
            }
            tally.in_flight += len(leased - seen_leases)
            tally.kills_mid_job += 1 if leased - seen_leases else 0
            seen_leases |= leased
            await classify_cut_off(store, install.org, cut_off, tally)
        for op in cut_off:
            op.conversation.handed_off |= op.kind == "handoff"

    # The last restart: everything queued must now go through.
    life = await hosts.start(http)
    api = HostApi(http, life.base_url, ADMIN_TOKEN)
    tally.resent += await settle(api, cut_off)
    await drain(api, hosts)

    problems: list[str] = []
    known: Counter[str] = Counter()
    per_session = cases_by_session(install.org)
    for conversation in conversations:
        count = per_session[conversation.session_id]
        if conversation.lost:
            # Its handoff fell in the window (HOOK_WINDOW_CLOSED): the carve-out is
            # exact only if the handoff really was lost.
            if count:
                problems.append(f"conversation {conversation.number}: misclassified as lost")
            continue
        if count != 1:
            problems.append(f"conversation {conversation.number}: {count} Cases")
            continue
        case = case_for_session(install.org, conversation.session_id)
        assert case is not None
        session = await api.session(conversation.session_id)
        if session["metadata"].get("salesforce_case_id") != case["Id"]:
            if not CASE_ID_SURVIVES_A_CRASH:
                known["session left without its Case Id"] += 1
            else:
                problems.append(f"conversation {conversation.number}: no salesforce_case_id")
        later = [
            m["text"]
            for m in session["messages"]
            if m["role"] != Role.AGENT
            and m["text"] not in conversation.initial
            and m["text"] not in tally.lost_texts
        ]
        bodies = comment_bodies(install.org, case["Id"])
        for problem in transcript_problems(conversation.initial + later, bodies):
            if problem.kind == "out of order" and problem.text in later and not APPENDS_KEEP_ORDER:
                known["re-engagement appended out of order"] += 1
            else:
                problems.append(f"conversation {conversation.number}: {problem}")
        joined = "\n".join(bodies)
        if any(text in joined for text in tally.lost_texts):
            problems.append(f"conversation {conversation.number}: a message misclassified as lost")
        handoff_end = max(joined.find(text) for text in conversation.initial)
        if any(0 <= joined.find(text) < handoff_end for text in later):
            problems.append(f"conversation {conversation.number}: appended before the handoff")
    duplicates = sum(n - 1 for n in per_session.values() if n > 1)
    cases = sum(1 for c in conversations if per_session[c.session_id] == 1)
    lost = len(tally.lost_in_window)
    status = await api.status()
    await hosts.kill(life)
    print(
        f"\nkill -9 trials: {tally.kills}, conversations: {len(conversations)}, "
        f"cases: {cases}, duplicates: {duplicates}, requests cut off: {tally.cut_off} "
        f"(re-sent after restart: {tally.resent}), kills with outbox jobs mid-work: "
        f"{tally.kills_mid_job} ({tally.in_flight} jobs), host lives: {hosts.lives}; "
        f"known bugs seen: lost between the host's commit and the plugin's hook: {lost}, "
        + ", ".join(f"{what}: {n}" for what, n in sorted(known.items()))
    )
    assert not problems, "\n".join(problems)
    assert duplicates == 0
    assert status["outbox"] == EMPTY_OUTBOX
    assert tally.kills == TRIALS
    if HOOK_WINDOW_CLOSED:
        assert not tally.lost_in_window, tally.lost_in_window


async def drain(api: HostApi, hosts: HostProcesses) -> None:
    try:
        await wait_for(lambda: drained(api), timeout=30, what="the outbox to drain")
    except AssertionError:
        async with hosts.store() as store:
            stuck = await store.items(OUTBOX_QUEUE)
        raise AssertionError(
            "the outbox did not drain:\n"
            + "\n".join(f"{i.item_id} {i.state} x{i.attempts}: {i.last_error}" for i in stuck)
        ) from None


async def kill_after(hosts: HostProcesses, life: HostLife, delay: float) -> None:
    await asyncio.sleep(delay)
    await hosts.kill(life)


async def perform(api: HostApi, op: Op) -> None:
    if op.kind == "handoff":
        await api.handoff(op.conversation.session_id)
        op.conversation.handed_off = True
    else:
        await api.post_message(op.conversation.session_id, "contact", op.text)


async def settle(api: HostApi, cut_off: list[Op]) -> int:
    """After a restart: send again what the host did not get. Returns how many."""
    resent = 0
    for op in cut_off:
        if op.conversation.lost:
            continue
        session = await api.session(op.conversation.session_id)
        if op.kind == "handoff":
            if session["status"] != SessionStatus.HANDED_OFF:
                await api.handoff(op.conversation.session_id)
                resent += 1
        elif op.text not in [m["text"] for m in session["messages"]]:
            await api.post_message(op.conversation.session_id, "contact", op.text)
            resent += 1
    return resent


async def classify_cut_off(store: Store, org: Org, cut_off: list[Op], tally: Tally) -> None:
    """Right after a kill, for each request it cut off: did the host commit it
    while the plugin has queued nothing for it (no job, no Case link, nothing in
    Salesforce)? That is the window between DevHost committing a session change
    and the plugin's hook queueing the job (HOOK_WINDOW_CLOSED)."""
    sessions = SessionRepository(store)
    index = CaseIndex(store)
    queued = {item.item_id for item in await store.items(OUTBOX_QUEUE)}
    # Hook calls the host wrote down before dying: its next start replays them.
    journaled = {
        (entry["session_id"], entry.get("message_id"))
        for _, entry in await HookJournal(store).entries()
    }
    for op in cut_off:
        session_id = op.conversation.session_id
        session = await sessions.get(session_id)
        assert session is not None
        if op.kind == "handoff":
            committed = session.status == SessionStatus.HANDED_OFF
            # A pending mark alone makes no progress: only the queued job does.
            traced = (
                f"handoff:{session_id}" in queued
                or (session_id, None) in journaled
                or await index.session_case(session_id) is not None
            )
            if committed and not traced:
                op.conversation.lost = True
                tally.lost_in_window.append(f"handoff of {session_id}")
            continue
        message = next((m for m in session.messages if m.text == op.text), None)
        if message is None:
            continue
        in_salesforce = any(
            op.text in str(c["CommentBody"]) for c in org.rows("CaseComment", False)
        )
        journal_has_it = (session_id, message.id) in journaled
        if f"append:{session_id}:{message.id}" not in queued and not (
            in_salesforce or journal_has_it
        ):
            tally.lost_texts.add(op.text)
            tally.lost_in_window.append(f"message {message.id} of {session_id}")


async def drained(api: HostApi) -> bool:
    with contextlib.suppress(HostError):
        outbox = (await api.status())["outbox"]
        return bool(outbox["pending"] == 0)
    return False
