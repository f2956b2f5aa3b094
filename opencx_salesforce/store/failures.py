"""Is an exception the store's? The drivers' own errors (SQLite, PostgreSQL,
Redis), and a connection refused or timed out: what a page or an API answers
with 503 and "try again once the store is back", not a bare 500."""

from __future__ import annotations

# Where a store's own errors come from: the SQLite, PostgreSQL and Redis drivers.
_STORE_DRIVERS = ("sqlite3", "asyncpg", "redis")


def from_the_store(exc: BaseException) -> bool:
    if isinstance(exc, ConnectionError | TimeoutError):
        return True
    return any(
        type(error).__module__.split(".")[0] in _STORE_DRIVERS
        for error in (exc, exc.__cause__, exc.__context__)
        if error is not None
    )


def cause_of(exc: BaseException) -> str:
    """The exception's type and first line, short enough for a page."""
    said = str(exc).strip()
    return type(exc).__name__ + (f": {said.splitlines()[0][:200]}" if said else "")
