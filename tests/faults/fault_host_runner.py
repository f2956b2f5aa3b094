"""A fork server for the kill -9 trials: real host processes, started in milliseconds.

Importing the reference host, the plugin and their dependencies takes about a
second; fifty host lives would spend most of the test doing that. This script
imports everything once, then for every JSON line on stdin forks a child that runs
``opencx-salesforce serve`` (``opencx_salesforce.cli.main``) with the given
config and port, its output appended to a log file, and prints the child's pid.
The child is an ordinary, separate process: SIGKILL ends it as it would end any
host, mid-write, with its SQLite file, sockets and leases left as they were.

Crash-recovery timeouts are compressed (see :func:`compress_recovery_timeouts`)
so that what a killed worker left leased or locked comes free in seconds rather
than minutes. A line may also name a ``crash_at`` point: the child then SIGKILLs
itself exactly there (the deterministic crash-window tests).

Run by ``faults_support.HostProcesses``; not a test module.
"""

from __future__ import annotations

import json
import os
import signal
import sys
from typing import Any

# Far longer than any attempt against the loopback emulator takes (tens of
# milliseconds), so a live worker is never doubled; short enough that fifty
# crashes fit in a minute. Production keeps 120 s leases and contact locks.
RECOVERY_SECONDS = 2.0

# Where a child may be told to SIGKILL itself (see install_crash_point).
CRASH_POINTS = ("handoff_hook", "reengage_hook", "after_queueing", "after_link_session")


def compress_recovery_timeouts() -> None:
    """Leases (outbox visibility timeout) and store locks held by a killed worker
    expire after :data:`RECOVERY_SECONDS` instead of minutes."""
    from opencx_salesforce.cases import service as cases
    from opencx_salesforce.outbox import queue
    from opencx_salesforce.replies import service as replies
    from opencx_salesforce.replies import sweep

    cases.LOCK_TTL = RECOVERY_SECONDS
    replies.CASE_LOCK_TTL = RECOVERY_SECONDS
    sweep.CASE_LOCK_TTL = RECOVERY_SECONDS  # type: ignore[attr-defined]
    original_init = queue.Outbox.__init__

    def init(self: queue.Outbox, *args: Any, **kwargs: Any) -> None:
        original_init(self, *args, **kwargs)
        self.settings.visibility_timeout = RECOVERY_SECONDS

    queue.Outbox.__init__ = init  # type: ignore[method-assign]


def install_crash_point(point: str) -> None:
    """Die by SIGKILL exactly at ``point``:

    * ``handoff_hook`` / ``reengage_hook``: the host has committed the session
      change and calls the plugin's hook, which has persisted nothing yet;
    * ``after_queueing``: the plugin's hook has queued the handoff job, before it
      returns to the host (the host's hook journal still holds the call);
    * ``after_link_session``: the worker wrote the Case into its index, before it
      wrote the Case Id on the session.
    """
    from opencx_salesforce import runtime as services
    from opencx_salesforce.cases import index as case_index
    from opencx_salesforce.cases import service as case_service

    def die() -> None:
        os.kill(os.getpid(), signal.SIGKILL)

    def dying_hook(*args: Any, **kwargs: Any) -> Any:
        die()

    def die_after(method: Any) -> Any:
        async def wrapper(*args: Any, **kwargs: Any) -> Any:
            await method(*args, **kwargs)
            die()

        return wrapper

    if point == "handoff_hook":
        services.Runtime.handoff = dying_hook  # type: ignore[method-assign]
    elif point == "reengage_hook":
        services.Runtime.reengage = dying_hook  # type: ignore[method-assign]
    elif point == "after_queueing":
        service = case_service.CaseService
        service.submit_handoff = die_after(service.submit_handoff)  # type: ignore[method-assign]
    elif point == "after_link_session":
        index = case_index.CaseIndex
        index.link_session = die_after(index.link_session)  # type: ignore[method-assign]
    else:
        raise SystemExit(f"unknown crash point {point!r}; one of {CRASH_POINTS}")


def serve_child(request: dict[str, Any]) -> None:
    """In the forked child: output to the log file, then the host until killed."""
    from opencx_salesforce import cli

    signal.signal(signal.SIGCHLD, signal.SIG_DFL)
    devnull = os.open(os.devnull, os.O_RDONLY)
    os.dup2(devnull, 0)  # the fork server's requests are not for the host
    os.close(devnull)
    log = os.open(request["log"], os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    os.dup2(log, 1)
    os.dup2(log, 2)
    os.close(log)
    if request.get("crash_at"):
        install_crash_point(str(request["crash_at"]))
    argv = ["serve", "--config", request["config"], "--port", str(request["port"])]
    code = cli.main([*argv, "--log-level", "debug"])
    os._exit(code)


def main() -> None:
    # Everything `serve` imports, imported once, before any fork.

    compress_recovery_timeouts()
    # Children are reaped by the kernel: the test watches them with kill(pid, 0).
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)
    print("ready", flush=True)
    for line in sys.stdin:
        if not line.strip():
            continue
        request = json.loads(line)
        pid = os.fork()
        if pid == 0:
            try:
                serve_child(request)
            finally:
                os._exit(70)
        print(pid, flush=True)


if __name__ == "__main__":
    main()
