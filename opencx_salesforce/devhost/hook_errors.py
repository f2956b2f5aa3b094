"""Hook failures the reference host keeps: a plugin's hook that raised is logged
and recorded as a :class:`HookError`, and the host goes on (a bot host must not
stop because one plugin failed). :attr:`DevHost.hook_errors` shows the most
recent ones, which tests and the admin use to see what went wrong.
"""

from __future__ import annotations

import collections
import logging
import time
from dataclasses import dataclass

# The logger the host has always logged hook failures under (log filters use it).
logger = logging.getLogger("opencx_salesforce.devhost.host")

_KEPT_HOOK_ERRORS = 100


@dataclass(frozen=True, slots=True)
class HookError:
    """A hook implementation that raised. The host logs it and goes on."""

    plugin: str
    hook: str
    error: Exception
    at: float  # unix seconds


class HookErrorLog:
    """The last hook failures, oldest first; older ones fall off."""

    def __init__(self) -> None:
        self._errors: collections.deque[HookError] = collections.deque(maxlen=_KEPT_HOOK_ERRORS)

    def record(self, plugin: str, hook: str, error: Exception) -> None:
        logger.error("plugin %r: hook %s failed", plugin, hook, exc_info=error)
        self._errors.append(HookError(plugin, hook, error, time.time()))

    def recent(self) -> list[HookError]:
        return list(self._errors)
