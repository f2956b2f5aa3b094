"""Calling extension hooks one plugin at a time, so every problem names the
plugin that caused it (through :mod:`opencx_salesforce.hookcalls`, the one
helper that calls hooks)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pluggy

from opencx_salesforce.errors import ExtensionHookError
from opencx_salesforce.hookcalls import call_plugin, plugin_order


async def answers(
    pm: pluggy.PluginManager, hook: str, **offered: Any
) -> AsyncIterator[tuple[str, Any]]:
    """``(plugin name, answer)`` for each implementation of ``hook`` that did not
    answer ``None``, in the order pluggy would call them (most recently
    registered first, ``tryfirst``/``trylast`` honoured), each plugin called only
    when the caller asks for the next answer. An exception from an
    implementation becomes an :class:`ExtensionHookError` naming its plugin."""
    for name in plugin_order(pm, hook):
        try:
            found = await call_plugin(pm, hook, name, offered)
        except ExtensionHookError:
            raise
        except Exception as exc:
            raise ExtensionHookError(
                name, None, f"{hook} raised {type(exc).__name__}: {exc}"
            ) from exc
        for answer in found:
            yield name, answer
