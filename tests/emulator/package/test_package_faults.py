"""The webhook fault knobs (drop, duplicate, delay, reorder), set over the admin API
and reproducible under a seed."""

from __future__ import annotations

import time
from typing import Any

from emulator_support import RestCaller
from package_support import Deployed, admin_post, opencx_case

from opencx_salesforce.apex import contract


async def set_faults(rest: RestCaller, webhooks: dict[str, Any]) -> dict[str, Any]:
    status, body = await admin_post(
        rest.http, rest.base_url, f"orgs/{rest.org.id}/faults", {"webhooks": webhooks}
    )
    assert status == 200, body
    return dict(body)


async def publish(rest: RestCaller, case_id: str, count: int) -> list[str]:
    """``count`` public comments, one request (one job) each."""
    ids = []
    for i in range(count):
        reply = await rest.post(
            "sobjects/CaseComment",
            {"ParentId": case_id, "CommentBody": f"reply {i}", "IsPublished": True},
        )
        assert reply.status == 201, reply.body
        ids.append(reply.body["id"])
    return ids


def record_ids(deployed: Deployed) -> list[str | None]:
    return [contract.parse_payload(call.body).record_id for call in deployed.receiver.calls]


async def test_drop_everything(deployed: Deployed) -> None:
    await set_faults(deployed.rest, {"drop_rate": 1.0})
    case_id = await opencx_case(deployed.rest)
    await publish(deployed.rest, case_id, 4)
    await deployed.runtime.drain()
    assert deployed.receiver.calls == []
    counters = deployed.runtime.counters
    assert (counters.dropped, counters.sent) == (4, 0)
    assert [entry.outcome for entry in deployed.runtime.log] == ["dropped"] * 4


async def test_duplicate_everything(deployed: Deployed) -> None:
    await set_faults(deployed.rest, {"duplicate_rate": 1.0})
    case_id = await opencx_case(deployed.rest)
    ids = await publish(deployed.rest, case_id, 3)
    await deployed.runtime.drain()
    assert record_ids(deployed) == [i for i in ids for _ in (1, 2)]
    calls = deployed.receiver.calls
    for first, second in zip(calls[::2], calls[1::2], strict=True):
        assert first.body == second.body
        assert first.headers[contract.HEADER_SIGNATURE] == second.headers[contract.HEADER_SIGNATURE]
    counters = deployed.runtime.counters
    assert (counters.sent, counters.duplicated, counters.delivered) == (6, 3, 6)


async def test_seeded_drops_and_duplicates_are_reproducible(
    deployed: Deployed, rest_for: Any
) -> None:
    """Two orgs, same seed, same writes: the same doorbells lost and doubled."""
    from opencx_salesforce.emulator.package import deploy_package

    other_rest: RestCaller = await rest_for()
    other = deploy_package(other_rest.org, deployed.receiver.url, None)
    knobs = {"drop_rate": 0.4, "duplicate_rate": 0.4, "seed": 20261125}
    outcomes = []
    for rest, runtime in ((deployed.rest, deployed.runtime), (other_rest, other)):
        await set_faults(rest, knobs)
        case_id = await opencx_case(rest)
        ids = await publish(rest, case_id, 20)
        await runtime.drain()
        counters = runtime.counters
        received = [
            call
            for call in deployed.receiver.calls
            if contract.parse_payload(call.body).org_id == rest.org.id
        ]
        assert len(received) == counters.sent == 20 - counters.dropped + counters.duplicated
        assert 0 < counters.dropped < 20 and 0 < counters.duplicated < 20
        pattern = [
            (ids.index(str(entry.record_id)), entry.outcome, entry.duplicate)
            for entry in runtime.log
        ]
        outcomes.append(pattern)
    assert outcomes[0] == outcomes[1]


async def test_delay_holds_each_job_back(deployed: Deployed) -> None:
    await set_faults(deployed.rest, {"delay_ms": 300})
    case_id = await opencx_case(deployed.rest)
    started = time.monotonic()
    await publish(deployed.rest, case_id, 1)
    [call] = await deployed.receiver.wait_for(1)
    assert call.at - started >= 0.3


async def test_jobs_run_in_order_unless_reordered(deployed: Deployed) -> None:
    rest = deployed.rest
    await set_faults(rest, {"delay_jitter_ms": 250, "seed": 7})
    case_id = await opencx_case(rest)
    in_order = await publish(rest, case_id, 6)
    await deployed.runtime.drain()
    assert record_ids(deployed) == in_order  # FIFO: jitter only slows the queue

    deployed.receiver.calls.clear()
    await set_faults(rest, {"reorder": True, "seed": 7})
    concurrent = await publish(rest, case_id, 6)
    await deployed.runtime.drain()
    arrived = record_ids(deployed)
    assert sorted(arrived, key=str) == sorted(concurrent, key=str)
    assert arrived != concurrent


async def test_fault_knobs_are_checked(deployed: Deployed) -> None:
    rest = deployed.rest
    path = f"orgs/{rest.org.id}/faults"
    bad: dict[str, Any]
    for bad in (
        {"webhooks": {"drop_rate": 1.5}},
        {"webhooks": {"reorder": "yes"}},
        {"webhooks": {"nonsense": 1}},
        {"api": {"error_rate": -1}},
        {"other": {}},
    ):
        status, body = await admin_post(rest.http, rest.base_url, path, bad)
        assert status == 400 and body["error"], bad
    body = await set_faults(rest, {"drop_rate": 0.25, "delay_ms": 10})
    assert body["webhooks"]["drop_rate"] == 0.25 and body["webhooks"]["delay_ms"] == 10
    status, body = await admin_post(rest.http, rest.base_url, path, {"reset": True})
    assert status == 200 and body["webhooks"]["drop_rate"] == 0.0
