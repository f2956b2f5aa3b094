"""Is the plugin alive, and is it ready for work? The answers behind
``{prefix}/healthz/live`` and ``{prefix}/healthz/ready``
(:mod:`opencx_salesforce.web.health`), following Kubernetes' probe conventions:

* **live**: the process is doing its job, restart it if not: every outbox
  worker task is still running (a worker task that died never comes back).
* **ready**: work sent here now would be done: the store takes a write and gives
  it back, and no outbox job has been ready for longer than
  ``health_outbox_stuck_seconds`` without a worker taking it.

The Salesforce connection is *reported*, not failed on: "not connected yet" and
"needs reauthorization" are fixed by an admin on the settings page, which this
same instance serves; a failing readiness would take it out of the load
balancer and hide that page. Queued work waits in the store meanwhile.

The answers name states only; the reasons (exception text) go to the log and,
for administrators, into ``detail``.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

from opencx_salesforce.log_throttle import LogThrottle, also
from opencx_salesforce.outbox.queue import due_for
from opencx_salesforce.runtime import STATE_NS, Runtime
from opencx_salesforce.salesforce.connection import ConnectionState
from opencx_salesforce.store.base import ItemState
from opencx_salesforce.store.probe import WriteWatch

log = logging.getLogger(__name__)

# What the probes say about the Salesforce connection.
CONNECTION_STATES = {
    ConnectionState.NOT_CONFIGURED: "not_connected_yet",
    ConnectionState.CREDENTIALS_SAVED: "not_connected_yet",
    ConnectionState.CONNECTED: "connected",
    ConnectionState.NEEDS_REAUTHORIZATION: "needs_reauthorization",
}


@dataclass
class Report:
    ok: bool
    checks: dict[str, str]  # check -> state, safe for anyone to read
    detail: dict[str, str] = field(default_factory=dict)  # check -> reason, admins only

    def to_json(self, *, with_detail: bool) -> dict[str, Any]:
        body: dict[str, Any] = {"status": "ok" if self.ok else "fail", "checks": self.checks}
        if with_detail and self.detail:
            body["detail"] = self.detail
        return body


def liveness(services: Runtime) -> Report:
    """Alive unless a background task the plugin started has died."""
    if not services.workers_started:
        return Report(True, {"workers": "not started here"})
    expected = services.outbox.settings.concurrency
    running = services.outbox.running_workers()
    # The sweep's loop outlives its own failures (they show on the settings
    # page), so the workers are what can die.
    return Report(running == expected, {"outbox_workers": f"{running}/{expected}"})


# Seconds readiness waits for the store: a store that does not answer (its
# client retrying a PostgreSQL that is down) is not ready, and the probe says
# so in time (it gave no answer at all in 40 s).
STORE_ANSWER_SECONDS = 5.0
# One ERROR line in a while, however often the probe asks (every 5 s here).
_store_errors = LogThrottle()


async def store_refuses_writes(services: Runtime) -> str | None:
    """Ask the store for a write now: why it refuses, or None when it takes it.
    A store can answer reads and refuse writes: a full disk, a read-only
    PostgreSQL after a failover, a Redis that cannot persist (``MISCONF``).
    Asked through the instance's :class:`~opencx_salesforce.store.probe.WriteWatch`,
    so the pages that only read hear the answer too."""
    watch = services.write_watch or WriteWatch(services.host.store, STATE_NS)
    return await watch.check(STORE_ANSWER_SECONDS)


async def readiness(services: Runtime) -> Report:
    checks: dict[str, str] = {}
    detail: dict[str, str] = {}
    ok = True

    reason = await store_refuses_writes(services)
    if reason is None:
        checks["store"] = "ok"
    else:
        ok = False
        checks["store"] = "not writable"
        detail["store"] = reason
        report = _store_errors.due()
        if report is not None:
            log.error("readiness: the store did not take a write: %s%s", reason, also(report))
        # The rest reads the store too: it would only wait as long again.
        checks["outbox"] = checks["salesforce"] = "unknown"
        return Report(ok, checks, detail)

    try:
        items = await services.outbox.items(ItemState.READY)
    except Exception as exc:  # the store check above already says it is down
        checks["outbox"] = "unknown"
        detail["outbox"] = f"{type(exc).__name__}: {exc}"
    else:
        limit = services.settings.health_outbox_stuck_seconds
        now = services.clock.time()
        overdue = [waited for waited in due_for(items, now) if waited > limit]
        if overdue:
            ok = False
            checks["outbox"] = "stuck"
            oldest = max(overdue)
            detail["outbox"] = (
                f"{len(overdue)} job(s) ready for over {limit:.0f} s, the oldest "
                f"{oldest:.0f} s, and no worker took them"
            )
        else:
            checks["outbox"] = "ok"

    try:
        status = await services.tokens.status()
    except Exception as exc:
        checks["salesforce"] = "unknown"
        detail["salesforce"] = f"{type(exc).__name__}: {exc}"
    else:
        checks["salesforce"] = CONNECTION_STATES[status.state]
        if status.reason:
            detail["salesforce"] = status.reason
    return Report(ok, checks, detail)
