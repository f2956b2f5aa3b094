"""Calling extension hooks one plugin at a time, so every problem names the
plugin that caused it.

pluggy calls a hook's implementations as one batch and cannot say whose answer
is whose; it would also take an ``async def`` implementation's coroutine for an
answer even when the coroutine resolves to ``None``. Calling each implementation
here, in pluggy's own order, and awaiting it, fixes both.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pluggy

from opencx_salesforce.errors import ExtensionHookError
from opencx_salesforce.hookspecs import resolve


async def answers(
    pm: pluggy.PluginManager, hook: str, **offered: Any
) -> AsyncIterator[tuple[str, Any]]:
    """``(plugin name, answer)`` for each implementation of ``hook`` that did not
    answer ``None``, in the order pluggy would call them (most recently
    registered first, ``tryfirst``/``trylast`` honoured). An exception from an
    implementation becomes an :class:`ExtensionHookError` naming its plugin."""
    caller = getattr(pm.hook, hook)
    for impl in reversed(caller.get_hookimpls()):
        name = impl.plugin_name
        kwargs = {arg: offered[arg] for arg in impl.argnames if arg in offered}
        try:
            answer = await resolve(impl.function(**kwargs))
        except ExtensionHookError:
            raise
        except Exception as exc:
            raise ExtensionHookError(
                name, None, f"{hook} raised {type(exc).__name__}: {exc}"
            ) from exc
        if answer is not None:
            yield name, answer
