"""Injected faults per org: latency, server errors, lock contention and outages."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable

from emulator_support import RestCaller

from opencx_salesforce.emulator.faults import LOCK, SERVER_ERROR, UNAVAILABLE


async def test_latency_is_added_to_the_org_requests(
    rest_for: Callable[..., Awaitable[RestCaller]],
) -> None:
    """Latency knob: every request of the org waits; other orgs don't."""
    slow = await rest_for()
    fast = await rest_for()
    slow.org.faults.latency_ms = 150
    started = time.perf_counter()
    assert (await slow.get("limits")).status == 200
    assert time.perf_counter() - started >= 0.15
    started = time.perf_counter()
    assert (await fast.get("limits")).status == 200
    assert time.perf_counter() - started < 0.15


async def test_injected_503_carries_retry_after(rest: RestCaller) -> None:
    """errorcodes.htm 503: the server is unavailable (maintenance or overload);
    the JSON body as recorded from an org: SERVER_UNAVAILABLE "Server too busy"
    (github.com/restforce/restforce/issues/156)."""
    rest.org.faults.retry_after = 7
    rest.org.faults.fail_next(UNAVAILABLE)
    reply = await rest.get("limits")
    assert reply.status == 503
    assert reply.headers["Retry-After"] == "7"
    assert reply.body == [{"message": "Server too busy", "errorCode": "SERVER_UNAVAILABLE"}]
    assert (await rest.get("limits")).status == 200


async def test_injected_500(rest: RestCaller) -> None:
    """errorcodes.htm 500: an error within the platform; Salesforce's body is an
    UNKNOWN_EXCEPTION with an ErrorId."""
    rest.org.faults.fail_next(SERVER_ERROR)
    reply = await rest.post("sobjects/Case", {"Subject": "lost"})
    assert reply.status == 500
    assert reply.body[0]["errorCode"] == "UNKNOWN_EXCEPTION"
    assert "ErrorId" in reply.body[0]["message"]
    assert rest.org.records["Case"] == {}


async def test_lock_contention_fails_writes_only(rest: RestCaller) -> None:
    """UNABLE_TO_LOCK_ROW "unable to obtain exclusive access to this record"
    (SALESFORCE.md §2): a save fails; reads are not locked out."""
    rest.org.faults.fail_next(LOCK)
    assert (await rest.get("limits")).status == 200
    reply = await rest.post("sobjects/Case", {"Subject": "locked"})
    assert reply.status == 400
    assert reply.body == [
        {
            "message": "unable to obtain exclusive access to this record",
            "errorCode": "UNABLE_TO_LOCK_ROW",
            "fields": [],
        }
    ]
    assert (await rest.post("sobjects/Case", {"Subject": "free"})).status == 201


async def test_error_rate_is_deterministic_under_a_seed(
    rest_for: Callable[..., Awaitable[RestCaller]],
) -> None:
    """The same seed gives the same sequence of failures."""
    outcomes: list[list[int]] = []
    for _ in range(2):
        rest = await rest_for()
        rest.org.faults.reseed(1234)
        rest.org.faults.error_rate = 0.5
        rest.org.faults.error_kinds = (SERVER_ERROR, UNAVAILABLE)
        outcomes.append([(await rest.get("limits")).status for _ in range(20)])
    assert outcomes[0] == outcomes[1]
    assert {200, 500, 503} == set(outcomes[0])


async def test_outage_refuses_every_request_until_it_ends(rest: RestCaller) -> None:
    """errorcodes.htm 503 ("down for maintenance"): during an outage window every
    request of the org is refused, the token endpoint included."""
    clock = rest.org.state.clock
    rest.org.faults.begin_outage(clock.now(), seconds=60)
    reply = await rest.get("limits")
    assert reply.status == 503
    assert 1 <= int(reply.headers["Retry-After"]) <= 60
    app = rest.org.seed.apps[0]
    async with rest.http.post(
        f"{rest.base_url}/services/oauth2/token",
        data={
            "grant_type": "client_credentials",
            "client_id": app.client_id,
            "client_secret": app.client_secret,
        },
    ) as response:
        assert response.status == 503
    clock.advance(61)
    assert (await rest.get("limits")).status == 200


async def test_maintenance_page_is_html(rest: RestCaller) -> None:
    """A 503 may come back as an HTML maintenance page, not JSON: clients must cope."""
    rest.org.faults.maintenance_html = True
    rest.org.faults.begin_outage(rest.org.state.clock.now())
    reply = await rest.get("sobjects/Case/describe")
    assert reply.status == 503
    assert reply.headers["Content-Type"].startswith("text/html")
    assert "<html>" in reply.text
    rest.org.faults.end_outage()
    assert (await rest.get("sobjects/Case/describe")).status == 200
