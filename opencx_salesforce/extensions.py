"""Calling extension hooks one plugin at a time, so every problem names the
plugin that caused it (through :mod:`opencx_salesforce.hookcalls`, the one
helper that calls hooks). The plugin's own defaults answer through the same
path, as the plugin named :data:`DEFAULTS_PLUGIN` (:mod:`opencx_salesforce.defaults`)."""

from __future__ import annotations

import copy
from collections.abc import AsyncGenerator, Collection
from typing import Any

import pluggy

from opencx_salesforce.errors import ExtensionHookError
from opencx_salesforce.hookcalls import CancelledInHook, HookTimedOut, call_plugin, plugin_order

# The name the plugin's default hook implementations are registered under.
DEFAULTS_PLUGIN = "salesforce.defaults"
# Seconds an extension hook's awaited answer may take: well inside a job's
# two-minute lease, so a hook that never answers fails its job with its name,
# rather than holding it, silent, while the lease runs out and it starts again.
HOOK_TIMEOUT = 60.0


async def answers(
    pm: pluggy.PluginManager,
    hook: str,
    *,
    exclude: Collection[str] = (),
    copied: Collection[str] = (),
    **offered: Any,
) -> AsyncGenerator[tuple[str, Any], None]:
    """``(plugin name, answer)`` for each implementation of ``hook`` that did not
    answer ``None``, in the order pluggy would call them (most recently
    registered first, ``tryfirst``/``trylast`` honoured), each plugin called only
    when the caller asks for the next answer. An exception from an
    implementation becomes an :class:`ExtensionHookError` naming its plugin.
    Plugins named in ``exclude`` are not asked (the caller asked them already).
    Each plugin gets its own (shallow) copy of the arguments named in
    ``copied``: one that changes its copy changes nothing for the next."""
    for name in plugin_order(pm, hook):
        if name in exclude:
            continue
        kwargs = {**offered, **{key: copy.copy(offered[key]) for key in copied}}
        try:
            found = await call_plugin(pm, hook, name, kwargs, timeout=HOOK_TIMEOUT)
        except ExtensionHookError:
            raise
        except (CancelledInHook, HookTimedOut) as exc:
            raise ExtensionHookError(name, None, f"{hook}: {exc}") from exc
        except Exception as exc:
            raise ExtensionHookError(
                name, None, f"{hook} raised {type(exc).__name__}: {exc}"
            ) from exc
        for answer in found:
            yield name, answer
