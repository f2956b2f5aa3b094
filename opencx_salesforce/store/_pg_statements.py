"""How the PostgreSQL store sends SQL: one statement per round trip on a pooled
connection, run again on a fresh connection when the server went away (within
``reconnect_timeout``, :mod:`._pg_retry`), and counted, so the benchmarks can
show the cost of each operation (:attr:`PostgresStore.round_trips`).
"""

from __future__ import annotations

from typing import Any

import asyncpg
from asyncpg.pool import PoolConnectionProxy

from opencx_salesforce.store._pg_lender import Lender
from opencx_salesforce.store._pg_retry import run_retrying


async def no_reset(connection: asyncpg.Connection) -> None:
    """The store leaves no session state (no LISTEN, no session locks, no SET) on
    pooled connections, so the default reset's round trip is pure cost."""


def _count(status: str) -> int:
    """Rows affected, from a command tag such as ``DELETE 1`` or ``UPDATE 0``."""
    return int(status.rsplit(" ", 1)[-1])


class Statements:
    """Fetch and execute on connections of ``pool`` (``size`` at most, kept and
    lent by a :class:`~._pg_lender.Lender`), with reconnect retries and a
    round-trip count."""

    def __init__(self, pool: asyncpg.Pool, *, size: int, reconnect_timeout: float) -> None:
        self._pool = Lender(pool, size=size)
        self._reconnect_timeout = reconnect_timeout
        self.round_trips = 0

    def _count_round_trip(self) -> None:
        self.round_trips += 1

    async def fetch(self, sql: str, *args: Any, retry: bool = True) -> list[Any]:
        async def work(conn: PoolConnectionProxy) -> list[Any]:
            return list(await conn.fetch(sql, *args))

        return await run_retrying(
            self._pool,
            work,
            reconnect_timeout=self._reconnect_timeout if retry else 0.0,
            on_attempt=self._count_round_trip,
        )

    async def execute(self, sql: str, *args: Any) -> int:
        async def work(conn: PoolConnectionProxy) -> int:
            return _count(await conn.execute(sql, *args))

        return await run_retrying(
            self._pool,
            work,
            reconnect_timeout=self._reconnect_timeout,
            on_attempt=self._count_round_trip,
        )

    async def close(self) -> None:
        """Give the connections back to the pool (before it closes)."""
        await self._pool.close()
