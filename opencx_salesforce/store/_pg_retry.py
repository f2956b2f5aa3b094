"""Riding out a PostgreSQL restart: which failures of a store statement may be
tried again, because the statement certainly did not commit.

* Getting a connection failed (refused, "the database system is starting up",
  too many connections): nothing was sent.
* The server told us it ended the connection (``57P01`` admin shutdown — a
  ``pg_ctl restart`` or ``pg_terminate_backend`` —, ``57P02`` crash of another
  backend) or rolled the transaction back (``40001`` serialization failure,
  ``40P01`` deadlock): it aborts the transaction it interrupts, and a statement
  that had committed would have been answered before that notice on the same
  connection.

* asyncpg refused to start the statement on a connection it found closed or
  still busy with a statement the server cut off: nothing was sent.

The connection of a failed attempt is closed, never handed out again. A
connection that vanishes without a word from the server (network cut, the
server killed) leaves the outcome unknown: that error reaches the caller, as
would a retried ``compare_and_set`` that might apply twice.

Retries go on, with growing pauses, until ``reconnect_timeout`` seconds have
passed since the first failure; then the last error is raised.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

import asyncpg
from asyncpg import exceptions as pgx
from asyncpg.pool import PoolConnectionProxy

from opencx_salesforce.log_throttle import LogThrottle, also
from opencx_salesforce.store._pg_lender import Lender

log = logging.getLogger(__name__)
_retries = LogThrottle()

_T = TypeVar("_T")

# SQLSTATEs after which the statement certainly did not commit (see above).
NOT_COMMITTED = frozenset({"57P01", "57P02", "57P03", "40001", "40P01"})
# Errors of pool.acquire(): nothing has been sent yet.
_CONNECT_ERRORS: tuple[type[BaseException], ...] = (
    OSError,
    TimeoutError,
    pgx.PostgresConnectionError,
    pgx.CannotConnectNowError,
    pgx.AdminShutdownError,
    pgx.CrashShutdownError,
    pgx.TooManyConnectionsError,
)


def did_not_commit(exc: BaseException) -> bool:
    """True if the server said it aborted the statement's transaction."""
    for candidate in (exc, exc.__cause__):
        if not isinstance(candidate, asyncpg.PostgresError):
            continue
        # asyncpg's own "closed in the middle of operation": no word from the server.
        if isinstance(candidate, pgx.ConnectionDoesNotExistError):
            continue
        if candidate.sqlstate in NOT_COMMITTED:
            return True
    return False


def refused(exc: BaseException) -> bool:
    """True if the server answered the statement with an error of its own (a
    value it cannot take, a constraint), not a lost or ended connection: the
    statement's data, not the way to the server, is at fault."""
    return (
        isinstance(exc, asyncpg.PostgresError)
        and not isinstance(exc, pgx.PostgresConnectionError)
        and not did_not_commit(exc)
    )


def never_sent(exc: BaseException) -> bool:
    """True for asyncpg's refusals to start a statement on a connection it finds
    closed or still busy (one the server dropped a moment ago): the statement
    never left this process."""
    if isinstance(exc, asyncpg.InterfaceError) and not isinstance(
        exc, asyncpg.ClientConfigurationError
    ):
        return True
    return isinstance(exc, pgx.InternalClientError) and str(exc).startswith(
        "cannot switch to state"
    )


async def run_retrying(
    pool: Lender,
    work: Callable[[PoolConnectionProxy], Awaitable[_T]],
    *,
    reconnect_timeout: float,
    on_attempt: Callable[[], None],
) -> _T:
    """``work(connection)``, tried again on a new connection from ``pool`` while
    it fails in a way that certainly left nothing committed."""
    give_up_at: float | None = None
    pause = 0.05
    while True:
        try:
            connection = await pool.acquire()
        except _CONNECT_ERRORS as exc:
            failure: BaseException = exc
        else:
            try:
                on_attempt()
                return await work(connection)
            except Exception as exc:
                if not refused(exc):
                    # The connection may be dead or mid-protocol: never reuse it.
                    # (One asyncpg already saw close is back in the pool's hands.)
                    with contextlib.suppress(asyncpg.InterfaceError):
                        connection.terminate()
                if not (did_not_commit(exc) or never_sent(exc)):
                    raise
                failure = exc
            finally:
                await pool.release(connection)
        now = time.monotonic()
        give_up_at = give_up_at or now + reconnect_timeout
        if now >= give_up_at:
            raise failure
        report = _retries.due()
        if report is not None:  # every statement of every worker retries: one line in a while
            log.warning(
                "PostgreSQL store: %s; trying again in %.2fs%s", failure, pause, also(report)
            )
        await asyncio.sleep(pause * random.uniform(0.5, 1.0))
        pause = min(pause * 2, 1.0)
