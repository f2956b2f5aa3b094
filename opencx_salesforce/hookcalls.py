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

import asyncio
import inspect
import weakref
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from typing import Any

import pluggy

HookErrorHandler = Callable[[str, str, Exception], None]


class CancelledInHook(Exception):
    """A hook raised ``asyncio.CancelledError`` though its caller was not being
    cancelled (it awaited a task cancelled elsewhere, say). As it is, that
    error would pass every ``except Exception`` as the caller's own
    cancellation: a host's handoff ended with no Case and no word, and a job
    was taken again every two minutes, for ever. It is a hook error instead."""


class HookTimedOut(Exception):
    """A hook's answer did not come within its time."""


@dataclass(frozen=True)
class _Plan:
    """How a hook is called one plugin at a time, for one set of implementations."""

    spec: Any  # the hook's spec when the plan was made
    impls: list[Any]  # its implementations then (pluggy's HookImpl, compared by identity)
    order: list[str]
    callers: dict[str, Any]  # plugin name -> its subset hook caller
    firstresult: bool


# Worked out once per plugin manager and hook, and again when the hook's
# implementations or its spec change: pluggy's subset callers cost more than the
# hook calls they make (a hook call a plugin, several a handoff). Registering or
# removing a plugin that implements the hook changes its implementations (new
# HookImpl objects); one that does not implement it changes nothing the plan
# calls. A plan holds its implementations, so their ids cannot pass to others.
_plans: weakref.WeakKeyDictionary[pluggy.PluginManager, dict[str, _Plan]] = (
    weakref.WeakKeyDictionary()
)


def _plan(pm: pluggy.PluginManager, hook_name: str) -> _Plan:
    caller = getattr(pm.hook, hook_name)
    impls = caller.get_hookimpls()
    plans = _plans.get(pm)
    if plans is None:
        plans = _plans[pm] = {}
    known = plans.get(hook_name)
    # HookImpl has no __eq__ of its own: list equality is identity, item by item.
    if known is not None and known.spec is caller.spec and known.impls == impls:
        return known
    order: list[str] = []
    for impl in reversed(impls):
        if impl.plugin_name not in order:
            order.append(impl.plugin_name)
    plugins = pm.list_name_plugin()
    callers = {
        name: pm.subset_hook_caller(
            hook_name, remove_plugins=[p for n, p in plugins if n != name and p is not None]
        )
        for name in order
    }
    firstresult = bool(caller.spec is not None and caller.spec.opts.get("firstresult"))
    plans[hook_name] = plan = _Plan(caller.spec, impls, order, callers, firstresult)
    return plan


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
    timeout: float | None = None,
) -> list[Any]:
    """What plugin ``plugin_name`` answers to ``hook_name`` (a list, as pluggy
    gives it; ``None`` answers left out), awaited unless ``await_results`` is off.
    ``timeout``: seconds an awaited answer may take (:class:`HookTimedOut`
    past them). A ``CancelledError`` of the hook's own is :class:`CancelledInHook`."""
    plan = _plan(pm, hook_name)
    single = plan.callers.get(plugin_name)
    if single is None:  # it does not implement the hook: pluggy would call nothing
        return []
    try:
        result = single(**kwargs)
        values = [result] if plan.firstresult else list(result)
        out = []
        for value in values:
            if await_results:
                value = await _answer(value, timeout)
            if value is not None:
                out.append(value)
        return out
    except asyncio.CancelledError:
        task = asyncio.current_task()
        if task is not None and task.cancelling():
            raise  # this task is being cancelled: not the hook's doing
        raise CancelledInHook(
            "it raised asyncio.CancelledError, though nothing cancelled its caller "
            "(did it await a task cancelled elsewhere?)"
        ) from None


async def _answer(value: Any, timeout: float | None) -> Any:
    """``value`` awaited if awaitable, within ``timeout`` seconds (a hook's own
    TimeoutError stays its own)."""
    if not inspect.isawaitable(value):
        return value  # an answer already there: no timer
    scope = asyncio.timeout(timeout)
    try:
        async with scope:
            return await value
    except TimeoutError:
        if scope.expired():
            raise HookTimedOut(f"it did not answer within {timeout:g} s") from None
        raise


async def call_each(
    pm: pluggy.PluginManager,
    hook_name: str,
    kwargs: Mapping[str, Any],
    on_error: HookErrorHandler,
    *,
    reraise: tuple[type[Exception], ...] = (),
    await_results: bool = True,
    only: Collection[str] | None = None,
) -> list[tuple[str, Any]]:
    """Call a hook on each implementing plugin separately, in pluggy's order,
    awaiting awaitable results.

    One plugin raising does not stop the others (a broken extension must not block
    the Salesforce handoff): ``on_error(plugin_name, hook_name, exc)`` is told and
    the call goes on, unless the exception is one of ``reraise``.

    :param await_results: await what each plugin returns (off for hooks whose
        result must not be a coroutine, such as ``webhook_routes``).
    :param only: call these plugins only (a call made again for the plugins
        that failed it).
    :return: ``(plugin name, result)`` for every answer that is not ``None``.
    """
    results: list[tuple[str, Any]] = []
    for name in plugin_order(pm, hook_name):
        if only is not None and name not in only:
            continue
        try:
            values = await call_plugin(pm, hook_name, name, kwargs, await_results=await_results)
        except reraise:
            raise
        except Exception as exc:
            on_error(name, hook_name, exc)
            continue
        results.extend((name, value) for value in values)
    return results
