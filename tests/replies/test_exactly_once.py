"""Exactly once without leaning on the host: the plugin's own bookkeeping keeps
each record to one delivery through replays, sweeps, crashes and failures."""

from __future__ import annotations

import asyncio
from typing import Any

from replies_support import (
    Rep,
    World,
    agent_messages,
    case_of,
    handed_off,
    idle,
    ring,
    sweep,
    wait_for,
)

from opencx_salesforce.apex import contract
from opencx_salesforce.replies.classify import strip_quoted
from opencx_salesforce.replies.ledger import Claim, Cursor, ReplyLedger
from opencx_salesforce.salesforce.ids import full_id

COMMENT = contract.EVENT_CASE_COMMENT_CREATED


def _count_deliveries(world: World) -> list[str]:
    """Record every external_id the plugin hands to the host."""
    host = world.node.host
    original = host.deliver_agent_message
    seen: list[str] = []

    async def counting(session_id: str, text: str, author: str, external_id: str) -> None:
        seen.append(external_id)
        await original(session_id, text, author, external_id)

    host.deliver_agent_message = counting  # type: ignore[method-assign]
    return seen


async def _case(world: World) -> tuple[str, str]:
    session = await handed_off(world.node)
    return session.id, await case_of(world.node, session.id)


async def test_the_host_is_asked_once_per_record_through_replays_and_sweeps(world: World) -> None:
    offered = _count_deliveries(world)
    session_id, case_id = await _case(world)
    rep = Rep(world.org)
    records = [rep.comment(case_id, f"Answer {n}") for n in range(3)]
    for _ in range(3):
        await asyncio.gather(*(ring(world, world.node, COMMENT, case_id, r) for r in records))
        await idle(world)
        await sweep(world.node.runtime)
    assert offered == records
    assert [m[2] for m in await agent_messages(world.node, session_id)] == records


async def test_a_claim_left_by_a_crashed_worker_is_taken_over_and_delivered(
    world: World,
) -> None:
    session_id, case_id = await _case(world)
    comment_id = Rep(world.org).comment(case_id, "Your replacement ships today.")
    # Another instance claimed the record and died before delivering it; its
    # claim lapses on the store's clock (here after 0.2 s instead of 90 s).
    crashed = ReplyLedger(world.store, claim_ttl=0.2)
    assert (await crashed.claim(comment_id)).claim is Claim.MINE
    assert (await ReplyLedger(world.store).claim(comment_id)).claim is Claim.BUSY

    await ring(world, world.node, COMMENT, case_id, comment_id)

    async def delivered() -> list[Any]:
        return await agent_messages(world.node, session_id)

    messages = await wait_for(delivered, what="the takeover delivery")
    assert messages == [("Your replacement ships today.", "Riley Rep", comment_id)]
    assert await world.node.runtime.replies.ledger.is_delivered(comment_id)


async def test_a_live_claim_holds_back_the_case_until_it_is_done(world: World) -> None:
    session_id, case_id = await _case(world)
    rep = Rep(world.org)
    world.emulator.state.clock.advance(1.0)
    first = rep.comment(case_id, "First")
    world.emulator.state.clock.advance(1.0)
    second = rep.comment(case_id, "Second")
    busy = ReplyLedger(world.store)
    claim = await busy.claim(first)

    status = world.node.runtime.reply_status
    reads = status.notifications_read
    await ring(world, world.node, COMMENT, case_id, second)

    async def read_again() -> bool:
        return status.notifications_read > reads

    await wait_for(read_again, what="the notify job to read the Case")
    # Nothing overtakes the record being delivered elsewhere.
    assert await agent_messages(world.node, session_id) == []

    # The other worker finishes: it delivered "First" and marks it.
    await world.node.host.deliver_agent_message(session_id, "First", "Riley Rep", first)
    assert await busy.mark_delivered(first, claim.token)

    async def both() -> bool:
        return len(await agent_messages(world.node, session_id)) == 2

    await wait_for(both, what="the held-back reply")
    assert [m[2] for m in await agent_messages(world.node, session_id)] == [first, second]


async def test_a_record_marked_delivered_is_not_delivered_again_even_if_the_host_forgot(
    world: World,
) -> None:
    # The crash window "delivered, marked, cursor not yet moved": the marker alone
    # keeps the record from a second delivery, whatever the host would dedupe.
    offered = _count_deliveries(world)
    _, case_id = await _case(world)
    comment_id = Rep(world.org).comment(case_id, "Already shown.")
    ledger = ReplyLedger(world.store)
    claim = await ledger.claim(comment_id)
    assert await ledger.mark_delivered(comment_id, claim.token)

    # A doorbell for the Case (its status), whose read finds the comment: a
    # doorbell for the comment itself would not even read (it is delivered).
    await ring(world, world.node, contract.EVENT_CASE_UPDATED, case_id, case_id)
    await wait_for(lambda: _read_count(world, 1), what="the notify read")
    await idle(world)
    assert offered == []
    assert world.node.runtime.reply_status.skipped_records["already delivered"] == 1
    cursor = await world.node.runtime.replies.ledger.cursor(case_id)
    assert comment_id in cursor.ids  # the cursor moved past it


async def _read_count(world: World, n: int) -> bool:
    return world.node.runtime.reply_status.notifications_read >= n


async def test_a_host_failure_while_delivering_is_retried_and_delivered_once(
    world: World,
) -> None:
    host = world.node.host
    original = host.deliver_agent_message
    attempts: list[str] = []

    async def flaky(session_id: str, text: str, author: str, external_id: str) -> None:
        attempts.append(external_id)
        if len(attempts) == 1:
            raise ConnectionError("the host's message bus is down")
        await original(session_id, text, author, external_id)

    host.deliver_agent_message = flaky  # type: ignore[method-assign]
    session_id, case_id = await _case(world)
    comment_id = Rep(world.org).comment(case_id, "Sorry for the wait.")
    await ring(world, world.node, COMMENT, case_id, comment_id)

    async def delivered() -> list[Any]:
        return await agent_messages(world.node, session_id)

    assert await wait_for(delivered, what="the retried delivery") == [
        ("Sorry for the wait.", "Riley Rep", comment_id)
    ]
    assert attempts == [comment_id, comment_id]


# --- the pieces ----------------------------------------------------------------------


def test_quoted_history_is_cut_from_an_email() -> None:
    assert strip_quoted("Thanks!\n\nOn Mon, 1 Dec 2026, Jane <j@x.com> wrote:\n> hi\n") == (
        "Thanks!"
    )
    assert strip_quoted("New text\r\n--------------- Original Message ---------------\r\nold") == (
        "New text"
    )
    assert strip_quoted("Reply\n> quoted\n> more\n") == "Reply"
    assert strip_quoted("Body\n\nref:_00D5g0ABC._5005g0XYZ:ref") == "Body"
    assert strip_quoted("> only a quote") == "> only a quote"  # nothing new: keep it all


def test_a_15_character_id_gets_its_case_safe_suffix() -> None:
    # The 18-character Id of the docs' create example. [src: api_rest dome_sobject_create.htm]
    assert full_id("001D000000IqhSL") == "001D000000IqhSLIAZ"
    assert full_id("70130000001tcyI") == "70130000001tcyIAAQ"
    assert full_id("001D000000IqhSLIAZ") == "001D000000IqhSLIAZ"


def test_a_cursor_moves_forward_through_records_of_one_instant() -> None:
    at = "2026-11-25T01:40:00.000+0000"
    later = "2026-11-25T01:40:01.000+0000"
    cursor = Cursor().after(at, "00a000000000001AAA")
    assert not cursor.is_behind(at, "00a000000000001AAA")
    assert cursor.is_behind(at, "00a000000000002AAA")  # same instant, not handled
    cursor = cursor.after(at, "00a000000000002AAA")
    assert cursor.ids == ("00a000000000001AAA", "00a000000000002AAA")
    assert not cursor.is_behind("2026-11-25T01:39:59.000+0000", "00a000000000009AAA")
    assert cursor.after(later, "02s000000000001AAA") == Cursor(later, ("02s000000000001AAA",))
