"""A queued handoff holds the session as JSON written into the job as it is
(not escaped again as a string); a handoff queued by an earlier version, with
the session as a string, still makes its Case after an upgrade."""

from __future__ import annotations

import json

from handoff_support import case_id_of, comments_of, converse

from opencx_salesforce.devhost.stack import Stack
from opencx_salesforce.models import SessionStatus
from opencx_salesforce.store.namespaces import OUTBOX as OUTBOX_QUEUE


async def test_a_queued_handoff_holds_its_session_as_json_and_makes_its_case(
    stack: Stack,
) -> None:
    outbox = stack.runtime.outbox
    await outbox.stop()  # queued for a worker, not begun where it was submitted
    session = await converse(stack.host, texts=['He said "it never came"', "Sorry to hear"])
    await stack.host.handoff(session.id)
    [item] = await outbox.items()
    payload = json.loads(item.payload)["payload"]
    assert payload["session"]["id"] == session.id  # an object, not a string to parse again
    assert "session_json" not in payload

    outbox.start()
    case_id = await case_id_of(stack.host, session.id)
    bodies = [c["CommentBody"] for c in comments_of(stack, case_id)]
    assert any('He said "it never came"' in body for body in bodies)


async def test_a_handoff_queued_by_an_earlier_version_still_makes_its_case(
    stack: Stack,
) -> None:
    outbox = stack.runtime.outbox
    await outbox.stop()
    session = await converse(stack.host, texts=["Where is my parcel?", "Let me check"])
    await stack.host.handoff(session.id)
    [queued] = await outbox.items()
    # What an earlier version wrote: the session as a JSON string.
    handed_off = session.model_copy(update={"status": SessionStatus.HANDED_OFF})
    old = {
        "session_json": handed_off.model_dump_json(),
        "reason": {"code": "requested", "detail": ""},
    }
    store = stack.host.store
    [lease] = await store.lease(OUTBOX_QUEUE, visibility_timeout=60)
    assert lease.item_id == queued.item_id and await store.ack(lease)
    assert await outbox.submit("handoff", queued.item_id, old, run_here=False)

    outbox.start()
    case_id = await case_id_of(stack.host, session.id)
    bodies = [c["CommentBody"] for c in comments_of(stack, case_id)]
    assert any("Where is my parcel?" in body for body in bodies)
