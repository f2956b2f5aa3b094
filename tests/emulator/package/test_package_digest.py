"""The package's digest as the emulator runs it: started by anonymous Apex, once a
minute on the org's clock (which the test moves), the changes on OpenCX Cases of
the last minutes in one signed callout, an empty one as the heartbeat; a doorbell
the drop knob lost is listed; a failed digest is covered by the next one."""

from __future__ import annotations

import json
from urllib.parse import quote

from emulator_support import Reply, RestCaller
from package_support import SECRET, Call, Deployed, new_case, opencx_case
from test_package_faults import publish

from opencx_salesforce.apex import contract, digest_contract, names
from opencx_salesforce.emulator.package.digest import stamp
from opencx_salesforce.salesforce import datetimes

START = f"{names.DIGEST_CLASS}.start();"
STOP = f"{names.DIGEST_CLASS}.stop();"


async def execute(rest: RestCaller, source: str) -> Reply:
    return await rest.get(f"tooling/executeAnonymous/?anonymousBody={quote(source)}")


async def started(deployed: Deployed) -> None:
    reply = await execute(deployed.rest, START)
    assert reply.body["success"] is True, reply.body


async def a_minute_later(deployed: Deployed, calls: int) -> list[Call]:
    """Move the org's clock a minute; the digest's run is due: wait for its call."""
    deployed.rest.org.state.clock.advance(60.0)
    await deployed.runtime.digest.run_due()  # or the poll ran it: it is done either way
    return await deployed.receiver.wait_for(calls)


def digests(deployed: Deployed) -> list[digest_contract.Digest]:
    found = []
    for call in deployed.receiver.calls:
        data = json.loads(call.body)
        if digest_contract.is_digest(data):
            found.append(digest_contract.parse_digest(data))
    return found


async def test_it_runs_every_minute_on_the_org_clock_and_sends_a_signed_heartbeat(
    deployed: Deployed,
) -> None:
    await started(deployed)
    assert not await deployed.runtime.digest.run_due(), "not before a minute has passed"
    [call] = await a_minute_later(deployed, 1)
    timestamp = call.headers[contract.HEADER_TIMESTAMP]
    signature = call.headers[contract.HEADER_SIGNATURE]
    assert contract.signature_matches(SECRET, timestamp, call.body, signature)
    [heartbeat] = digests(deployed)
    assert heartbeat.changes == () and heartbeat.truncated is False
    assert heartbeat.org_id == deployed.rest.org.id
    lookback = (heartbeat.until - heartbeat.since).total_seconds()
    assert lookback == 60 * digest_contract.LOOKBACK_MINUTES

    deployed.rest.org.state.clock.advance(30.0)
    assert not await deployed.runtime.digest.run_due(), "half a minute: not yet"
    await a_minute_later(deployed, 2)
    first, second = digests(deployed)
    assert 60.0 <= (second.until - first.until).total_seconds() < 92.0
    assert deployed.runtime.stats()["digest"]["runs"] == 2


async def test_a_reply_whose_doorbell_was_dropped_is_listed(deployed: Deployed) -> None:
    deployed.runtime.faults.drop_rate = 1.0  # every doorbell lost: never sent
    await started(deployed)
    case_id = await opencx_case(deployed.rest)
    [reply] = await publish(deployed.rest, case_id, 1)
    note = await deployed.rest.post(
        "sobjects/CaseComment",
        {"ParentId": case_id, "CommentBody": "internal", "IsPublished": False},
    )
    other = await new_case(deployed.rest)
    [not_ours] = await publish(deployed.rest, other, 1)
    await deployed.runtime.drain()
    assert deployed.receiver.calls == [] and deployed.runtime.counters.dropped == 1

    await a_minute_later(deployed, 1)
    [digest] = digests(deployed)
    listed = {change.record_id for change in digest.changes}
    assert reply in listed
    assert note.body["id"] not in listed and not_ours not in listed
    [change] = [c for c in digest.changes if c.record_id == reply]
    stored = deployed.rest.org.stored("CaseComment", reply)
    assert stored is not None
    assert change.case_id == case_id
    assert change.stamp == stamp(datetimes.parse(stored["SystemModstamp"]))
    # The Case itself, never changed since it was made, needs no read: not listed.
    assert case_id not in listed


async def test_a_failed_digest_is_covered_by_the_next_one(deployed: Deployed) -> None:
    deployed.runtime.faults.drop_rate = 1.0
    await started(deployed)
    case_id = await opencx_case(deployed.rest)
    [reply] = await publish(deployed.rest, case_id, 1)
    deployed.receiver.status = 503  # the host is restarting
    await a_minute_later(deployed, 1)
    assert deployed.runtime.digest.counters.failed == 1
    deployed.receiver.status = 202
    await a_minute_later(deployed, 2)
    first, second = digests(deployed)
    assert reply in {c.record_id for c in first.changes}
    assert reply in {c.record_id for c in second.changes}, "the windows overlap"
    assert deployed.runtime.digest.counters.delivered == 1


async def test_a_changed_status_and_a_deleted_case_are_listed(deployed: Deployed) -> None:
    deployed.runtime.faults.drop_rate = 1.0
    await started(deployed)
    closed = await opencx_case(deployed.rest)
    gone = await opencx_case(deployed.rest)
    # A change is a SystemModstamp past the CreatedDate: not in the same
    # millisecond (a fast machine made both in one once).
    deployed.rest.org.state.clock.advance(1.0)
    closing = await deployed.rest.patch(f"sobjects/Case/{closed}", {"Status": "Closed"})
    assert closing.status == 204
    assert (await deployed.rest.delete(f"sobjects/Case/{gone}")).status == 204
    await deployed.runtime.drain()
    await a_minute_later(deployed, 1)
    [digest] = digests(deployed)
    assert {closed, gone} <= {c.record_id for c in digest.changes}


async def test_stop_ends_it_and_it_needs_its_class(deployed: Deployed) -> None:
    await started(deployed)
    assert (await execute(deployed.rest, STOP)).body["success"] is True
    deployed.rest.org.state.clock.advance(120.0)
    assert not await deployed.runtime.digest.run_due()
    assert deployed.receiver.calls == []
    deployed.rest.org.metadata.remove_metadata("ApexClass", names.DIGEST_CLASS)
    reply = await execute(deployed.rest, START)
    assert reply.body["compileProblem"] == f"Variable does not exist: {names.DIGEST_CLASS}"
