"""What ``doctor`` (or a readiness probe) learns from the PostgreSQL store: the
schema's version, the server's clock, and whether a write commits."""

from __future__ import annotations

import math
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import asyncpg


@dataclass(frozen=True, slots=True)
class StoreHealth:
    schema: str
    schema_version: int  # 0 when the check failed
    server_time: float  # unix seconds, the server's clock (NaN when the check failed)
    writable: bool
    error: str | None = None


async def check_writable(
    fetch_once: Callable[[str], Awaitable[list[Any]]], schema: str, quoted: str
) -> StoreHealth:
    """Commit one small write (the ``health`` row) and read the version and the
    clock in the same statement. One attempt, no retries: a health check must
    answer now. Never raises for a database problem; the error is in the result."""
    try:
        rows = await fetch_once(
            f"""
            WITH beat AS (
                INSERT INTO {quoted}.health (id, checked_at) VALUES (1, now())
                ON CONFLICT (id) DO UPDATE SET checked_at = excluded.checked_at
                RETURNING checked_at
            )
            SELECT (SELECT coalesce(max(version), 0) FROM {quoted}.schema_version),
                   extract(epoch FROM (SELECT checked_at FROM beat))::float8
            """
        )
    except (OSError, TimeoutError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
        return StoreHealth(schema, 0, math.nan, writable=False, error=str(exc))
    version, server_time = rows[0]
    return StoreHealth(schema, int(version), float(server_time), writable=True)
