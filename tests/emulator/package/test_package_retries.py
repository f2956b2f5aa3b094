"""The generated class's retries, as the emulator runs them: a doorbell whose
callout failed is sent again by a job of its own 1, 2, 5 and 10 minutes later (on
the org's clock, which the test moves), then left to the plugin's sweep; a retry
that lands ends it, and a retry holds up no other job."""

from __future__ import annotations

from datetime import datetime
from itertools import pairwise

from package_support import Deployed, opencx_case
from test_package_faults import publish, record_ids

from opencx_salesforce.emulator.package.model import RETRY_DELAYS_MINUTES


def moments(deployed: Deployed) -> list[float]:
    return [datetime.fromisoformat(entry.at).timestamp() for entry in deployed.runtime.log]


async def test_a_refused_doorbell_is_sent_again_a_minute_later(deployed: Deployed) -> None:
    deployed.receiver.status = 503  # the host is restarting
    case_id = await opencx_case(deployed.rest)
    [comment] = await publish(deployed.rest, case_id, 1)
    await deployed.runtime.drain()
    counters = deployed.runtime.counters
    assert (counters.failed, counters.retries) == (1, 1)

    # Another doorbell meanwhile is not held up by the retry waiting its turn.
    deployed.receiver.status = 202
    [other] = await publish(deployed.rest, case_id, 1)
    await deployed.runtime.drain()
    assert record_ids(deployed) == [comment, other]

    deployed.rest.org.state.clock.advance(60.0)
    await deployed.receiver.wait_for(3)
    await deployed.runtime.drain()
    assert record_ids(deployed) == [comment, other, comment]
    assert (counters.delivered, counters.failed, counters.retries) == (2, 1, 1)
    first, _, retried = moments(deployed)
    assert retried - first >= 60.0


async def test_retries_back_off_then_leave_the_event_to_the_sweep(deployed: Deployed) -> None:
    deployed.receiver.status = 500
    case_id = await opencx_case(deployed.rest)
    [comment] = await publish(deployed.rest, case_id, 1)
    await deployed.runtime.drain()
    clock = deployed.rest.org.state.clock
    for tries, minutes in enumerate(RETRY_DELAYS_MINUTES, start=2):
        clock.advance(60.0 * minutes)
        await deployed.receiver.wait_for(tries)
        await deployed.runtime.drain()
    assert record_ids(deployed) == [comment] * (len(RETRY_DELAYS_MINUTES) + 1)
    # Every retry failed; no further one was enqueued after the last.
    assert deployed.runtime.counters.retries == len(RETRY_DELAYS_MINUTES)
    times = moments(deployed)
    gaps = [later - earlier for earlier, later in pairwise(times)]
    assert all(gap >= 60.0 * m for gap, m in zip(gaps, RETRY_DELAYS_MINUTES, strict=True))
