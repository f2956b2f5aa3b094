"""The edges of a Case's life under lost webhooks (issue #15): 200 handoffs, then
rep replies, closures and contact messages interleaved at random (seeded), a
third of them written right after the rep closed the Case, while the deployed
package loses 30% of its webhook calls. At the end (one sweep to find what the
lost doorbells hid):

* every contact message is on a Case that was open when it landed, or on the
  follow-up Case (``ParentId``) of the one that closed under it;
* every rep reply was delivered once;
* no session is resolved with an open Case, and none is left handed off to a
  closed one: nothing written after a closure is left unread.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import pytest
from faults_support import FAST_RETRIES

from opencx_salesforce.devhost.stack import Stack, start_stack
from opencx_salesforce.devhost.waiting import wait_for
from opencx_salesforce.emulator.package import deploy_package
from opencx_salesforce.emulator.rep import Rep
from opencx_salesforce.models import Contact, HandoffReason, Role, SessionStatus
from opencx_salesforce.salesforce.datetimes import parse
from opencx_salesforce.store.base import ItemState
from opencx_salesforce.store.memory import MemoryStore

SECRET = "whsec_closure_race_0123456789abcdef"
SEED = 15
HANDOFFS = 200
STEPS = 700


@dataclass
class Trial:
    written: dict[str, list[str]] = field(default_factory=dict)  # session -> contact texts
    replies: list[str] = field(default_factory=list)  # rep comment Ids
    closures: int = 0
    right_after_closure: int = 0


@pytest.fixture
async def race_stack() -> AsyncIterator[Stack]:
    settings = {**FAST_RETRIES, "webhook_signing_secret": SECRET}
    stack = await start_stack(store=MemoryStore(), plugin_settings=settings)
    try:
        yield stack
    finally:
        await stack.close()


async def drained(stack: Stack) -> None:
    async def empty() -> bool:
        items = await stack.runtime.outbox.items()
        assert not [i for i in items if i.state is ItemState.DEAD], items
        return not items

    await wait_for(empty, timeout=30.0, what="the outbox to drain")


async def test_two_hundred_handoffs_with_closures_and_lost_webhooks_lose_no_word(
    race_stack: Stack,
) -> None:
    stack, rng, trial = race_stack, random.Random(SEED), Trial()
    host, org = stack.host, stack.org
    apex = deploy_package(org, stack.runtime.webhook_url, SECRET)
    apex.faults.drop_rate, apex.faults.reorder, apex.faults.delay_jitter_ms = 0.3, True, 20.0
    apex.faults.reseed(SEED)
    # Requests take a few milliseconds, so appends, reads and closures interleave.
    org.faults.latency_jitter_ms = 4.0
    org.faults.reseed(SEED)
    rep = Rep(org)
    started = time.monotonic()

    sessions = []
    for n in range(HANDOFFS):
        session = await host.create_session(
            contact=Contact(name=f"Race {n}", email=f"race{n}@example.com"),
            topic="My parcel never arrived",
        )
        text = f"[race{n}-m0] where is my parcel?"
        await host.post_message(session.id, Role.CONTACT, text)
        trial.written[session.id] = [text]
        await host.handoff(session.id, HandoffReason(code="requested"))
        sessions.append(session.id)

    async def current_case(session_id: str) -> str | None:
        session = await host.get_session(session_id)
        assert session is not None
        if session.status != SessionStatus.HANDED_OFF:
            return None
        case_id = session.metadata.get("salesforce_case_id")
        case = org.get("Case", str(case_id)) if case_id else None
        return str(case_id) if case is not None and not case["IsClosed"] else None

    async def contact_writes(session_id: str) -> None:
        session = await host.get_session(session_id)
        assert session is not None
        if session.status != SessionStatus.HANDED_OFF:
            return  # resolved: the contact talks to the bot again, not to Salesforce
        text = f"[{session_id}-m{len(trial.written[session_id]):02d}] any news?"
        await host.post_message(session_id, Role.CONTACT, text)
        trial.written[session_id].append(text)

    for step in range(STEPS):
        session_id = rng.choice(sessions)
        action = rng.random()
        case_id = await current_case(session_id)
        if action < 0.4:
            await contact_writes(session_id)
        elif case_id is not None:  # else no open Case for the rep (yet, or any more)
            if action < 0.75:
                trial.replies.append(rep.reply(case_id, f"rep reply {step} on {session_id}"))
            else:
                rep.close(case_id)
                trial.closures += 1
                if rng.random() < 0.35:
                    # The race: the contact writes before anyone heard of the closure.
                    trial.right_after_closure += 1
                    await contact_writes(session_id)
        if rng.random() < 0.3:
            await asyncio.sleep(rng.uniform(0, 0.02))

    # Every doorbell that was not lost has rung; the sweep finds what the lost hid.
    apex.faults.drop_rate = org.faults.latency_jitter_ms = 0.0
    await apex.drain()
    await drained(stack)
    stack.emulator.state.clock.advance(1.0)
    await wait_for(stack.runtime.sweeper.run_once, what="the final sweep")
    await drained(stack)
    elapsed = time.monotonic() - started

    # --- every contact message landed where a person reads it -----------------------------
    cases = {str(c["Id"]): c for c in org.rows("Case", False)}
    comments = list(org.rows("CaseComment", False))
    unread = []
    for session_id, texts in trial.written.items():
        for text in texts:
            holders = [c for c in comments if text in str(c["CommentBody"])]
            read = [
                c
                for c in holders
                if not cases[str(c["ParentId"])]["IsClosed"]
                or parse(str(cases[str(c["ParentId"])]["ClosedDate"])) >= parse(c["CreatedDate"])
            ]
            if not read:
                unread.append(f"{session_id}: {text!r} on {[c['ParentId'] for c in holders]}")
    assert unread == []

    # --- sessions match their Cases -----------------------------------------------------------
    mismatched = []
    for session_id in sessions:
        session = await host.get_session(session_id)
        assert session is not None
        case = cases[str(session.metadata["salesforce_case_id"])]
        if (session.status == SessionStatus.RESOLVED) != bool(case["IsClosed"]):
            mismatched.append(f"{session_id} {session.status} on Case closed={case['IsClosed']}")
    assert mismatched == []
    follow_ups = [c for c in cases.values() if c.get("ParentId")]
    assert all(cases[str(c["ParentId"])]["IsClosed"] for c in follow_ups)

    # --- every rep reply delivered once --------------------------------------------------------
    delivered: Counter[str] = Counter()
    for session_id in sessions:
        session = await host.get_session(session_id)
        assert session is not None
        delivered.update(m.external_id or "" for m in session.messages if m.role == Role.AGENT)
    assert sorted(delivered) == sorted(trial.replies)
    assert stack.runtime.reply_status.deliveries == len(trial.replies)

    print(
        f"\nclosure race: handoffs: {HANDOFFS}, contact messages: "
        f"{sum(len(t) for t in trial.written.values())}, rep replies: {len(trial.replies)}, "
        f"closures: {trial.closures} ({trial.right_after_closure} written to right after), "
        f"follow-up Cases: {len(follow_ups)}, webhooks dropped: {apex.counters.dropped}, "
        f"{elapsed:.1f} s"
    )
