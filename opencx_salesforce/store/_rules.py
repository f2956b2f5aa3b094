"""The small rules every backend applies the same way, kept in one place so the
three backends cannot drift apart."""

from __future__ import annotations

import secrets

from opencx_salesforce.store.base import ItemState


class SchemaTooNew(RuntimeError):
    """The database was written by a newer release than this one: its tables
    may hold what this release would misread, so it is not opened."""


def check_ttl(ttl: float | None) -> None:
    """A TTL of zero or less would write a value that is already gone: refuse it
    rather than guess whether the caller meant "delete" or "forever"."""
    if ttl is not None and not ttl > 0:
        raise ValueError(f"ttl must be a positive number of seconds or None, got {ttl!r}")


def check_lease(visibility_timeout: float, limit: int) -> None:
    if not visibility_timeout > 0:
        raise ValueError(f"visibility_timeout must be positive, got {visibility_timeout!r}")
    if limit < 1:
        raise ValueError(f"limit must be at least 1, got {limit!r}")


def check_delay(delay: float) -> None:
    """A delay is measured forward from the store's now; a negative one would be
    an absolute time in disguise."""
    if not delay >= 0:
        raise ValueError(f"delay must be zero or a positive number of seconds, got {delay!r}")


def visible_state(stored: ItemState, available_at: float, now: float) -> ItemState:
    """What a status page should show: a lease that ran out makes its item ready
    again even before anyone re-leases it."""
    if stored is ItemState.LEASED and available_at <= now:
        return ItemState.READY
    return stored


def new_token() -> str:
    """Unguessable, so a lease cannot be forged from its item id."""
    return secrets.token_hex(16)
