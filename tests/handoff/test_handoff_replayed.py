"""A host replays a hook call its crash cut short (host-implementers.md): the
handoff comes again with the session as it is then, holding what the contact
wrote after the handoff, which its own append jobs already carry. Each word
lands on the Case once: it landed in the transcript and again in its append."""

from __future__ import annotations

import pytest
from handoff_support import converse

from opencx_salesforce.devhost.stack import Stack
from opencx_salesforce.devhost.waiting import wait_for
from opencx_salesforce.models import HandoffReason, Role, Session


async def test_words_written_after_a_replayed_handoff_land_once(
    stack: Stack, monkeypatch: pytest.MonkeyPatch
) -> None:
    cases = stack.runtime.cases
    submit = cases.submit_handoff
    calls = 0

    async def lost_in_a_crash(session: Session, reason: HandoffReason) -> None:
        nonlocal calls
        calls += 1
        if calls > 1:
            await submit(session, reason)
        # The first: the host died before the handoff's job was written.

    monkeypatch.setattr(cases, "submit_handoff", lost_in_a_crash)
    session = await converse(stack.host, texts=["My parcel is missing."])
    await stack.host.handoff(session.id)
    await stack.host.post_message(session.id, Role.CONTACT, "SECOND-1796595807")
    # The restarted host replays its journal: on_handoff with the session now.
    now = await stack.host.get_session(session.id)
    assert now is not None
    await stack.plugin.on_handoff(session=now, reason=HandoffReason())

    async def settled() -> bool:  # the append too, which waited for the Case
        await stack.runtime.outbox.run_until_idle()
        return not await stack.runtime.outbox.pending("")

    await wait_for(settled, what="the handoff and the append done")

    case_id = (await stack.host.get_session(session.id) or now).metadata["salesforce_case_id"]
    bodies = [
        str(r["CommentBody"])
        for r in stack.org.rows("CaseComment", False)
        if r["ParentId"] == case_id
    ]
    assert sum(b.count("SECOND-1796595807") for b in bodies) == 1
    assert any("My parcel is missing." in b for b in bodies)
