"""Shared values of the foundation tests (a uniquely named module: ``conftest``
is ambiguous when several test folders have one)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from opencx_salesforce.devhost import DevHost, HostSettings

ADMIN_TOKEN = "foundation-admin-token-0123456789"
ADMIN = {"Authorization": f"Bearer {ADMIN_TOKEN}"}

StartHost = Callable[..., Awaitable[DevHost]]
InstallPlugin = Callable[[str, str], str]


def host_settings(**overrides: Any) -> HostSettings:
    values: dict[str, Any] = {"admin_token": ADMIN_TOKEN, "store_url": "memory://"}
    values.update(overrides)
    return HostSettings(**values)
