"""Calling a hook one plugin at a time, through pluggy.

pluggy calls a hook's implementations as one batch: it cannot say whose answer is
whose, one raising stops the rest, and an ``async def`` implementation answers a
coroutine. Hosts and this plugin both need each plugin's own answer, awaited,
with errors named by plugin. This is the one helper that does it, for the host
hooks and the extension hooks alike. Each plugin is called through
``PluginManager.subset_hook_caller``, so pluggy's own machinery (argument
subsets, wrappers, ``tryfirst``/``trylast``, ``firstresult``) still applies.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import pluggy

from opencx_salesforce.hookspecs import resolve

HookErrorHandler = Callable[[str, str, Exception], None]


@dataclass(frozen=True)
class _Plan:
    """How a hook is called one plugin at a time, for one set of registrations."""

    registered: tuple[Any, ...]  # the hook's spec and the registrations it was made for
    order: list[str]
    callers: dict[str, Any]  # plugin name -> its subset hook caller
    firstresult: bool


# Worked out once per plugin manager and hook, and again when the registrations
# or the hook's spec change: pluggy's subset callers cost more than the hook
# calls they make (a hook call a plugin, several a handoff). A plan holds the
# plugins it was made for, so their ids cannot pass to others meanwhile.
_plans: weakref.WeakKeyDictionary[pluggy.PluginManager, dict[str, _Plan]] = (
    weakref.WeakKeyDictionary()
)


def _plan(pm: pluggy.PluginManager, hook_name: str) -> _Plan:
    caller = getattr(pm.hook, hook_name)
    plugins = pm.list_name_plugin()
    registered = (caller.spec, *plugins)
    plans = _plans.setdefault(pm, {})
    known = plans.get(hook_name)
    if known is not None and _same(known.registered, registered):
        return known
    order: list[str] = []
    for impl in reversed(caller.get_hookimpls()):
        if impl.plugin_name not in order:
            order.append(impl.plugin_name)
    callers = {
        name: pm.subset_hook_caller(
            hook_name, remove_plugins=[p for n, p in plugins if n != name and p is not None]
        )
        for name in order
    }
    firstresult = bool(caller.spec is not None and caller.spec.opts.get("firstresult"))
    plans[hook_name] = plan = _Plan(registered, order, callers, firstresult)
    return plan


def _same(known: tuple[Any, ...], now: tuple[Any, ...]) -> bool:
    """The same spec and (name, plugin) pairs, by identity."""
    return len(known) == len(now) and all(
        a is b or (isinstance(a, tuple) and a[0] == b[0] and a[1] is b[1])
        for a, b in zip(known, now, strict=True)
    )


def plugin_order(pm: pluggy.PluginManager, hook_name: str) -> list[str]:
    """The plugins implementing ``hook_name``, in the order pluggy calls them
    (the most recently registered first, ``tryfirst``/``trylast`` honoured)."""
    return list(_plan(pm, hook_name).order)


async def call_plugin(
    pm: pluggy.PluginManager,
    hook_name: str,
    plugin_name: str,
    kwargs: Mapping[str, Any],
    *,
    await_results: bool = True,
) -> list[Any]:
    """What plugin ``plugin_name`` answers to ``hook_name`` (a list, as pluggy
    gives it; ``None`` answers left out), awaited unless ``await_results`` is off."""
    plan = _plan(pm, hook_name)
    single = plan.callers.get(plugin_name)
    if single is None:  # it does not implement the hook: pluggy would call nothing
        return []
    result = single(**kwargs)
    values = [result] if plan.firstresult else list(result)
    out = []
    for value in values:
        value = await resolve(value) if await_results else value
        if value is not None:
            out.append(value)
    return out


async def call_each(
    pm: pluggy.PluginManager,
    hook_name: str,
    kwargs: Mapping[str, Any],
    on_error: HookErrorHandler,
    *,
    reraise: tuple[type[Exception], ...] = (),
    await_results: bool = True,
) -> list[tuple[str, Any]]:
    """Call a hook on each implementing plugin separately, in pluggy's order,
    awaiting awaitable results.

    One plugin raising does not stop the others (a broken extension must not block
    the Salesforce handoff): ``on_error(plugin_name, hook_name, exc)`` is told and
    the call goes on, unless the exception is one of ``reraise``.

    :param await_results: await what each plugin returns (off for hooks whose
        result must not be a coroutine, such as ``webhook_routes``).
    :return: ``(plugin name, result)`` for every answer that is not ``None``.
    """
    results: list[tuple[str, Any]] = []
    for name in plugin_order(pm, hook_name):
        try:
            values = await call_plugin(pm, hook_name, name, kwargs, await_results=await_results)
        except reraise:
            raise
        except Exception as exc:
            on_error(name, hook_name, exc)
            continue
        results.extend((name, value) for value in values)
    return results
