"""The configuration file ``doctor``, ``apex`` and ``connect`` read: the host's
TOML, its ``[salesforce]`` table checked with its ``[host]`` table, so one error
lists the mistakes of both. (``serve`` checks every plugin's table when the host
starts, in one pass with the tables no plugin reads: see devhost/host.py.)"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from opencx_salesforce.devhost.config import HostSettings


def load_install_config(path: str | Path) -> tuple[HostSettings, dict[str, dict[str, Any]]]:
    """The host's settings and every plugin's table. Raises one
    :class:`~opencx_salesforce.errors.ConfigError` naming the file and every key
    at fault in ``[host]`` and ``[salesforce]`` together."""
    from opencx_salesforce.devhost.config import load_config
    from opencx_salesforce.settings.model import SECTION, load_settings

    return load_config(path, checks={SECTION: load_settings})
