"""The host's plugin manager.

The manager is built by :func:`make_plugin_manager`, never at import time, in the
order pluggy's own example uses: host specs, then the historic ``add_hookspecs``
call (so every plugin loaded later can add its specs), then the plugins, then
``check_pending`` so that a misspelt hook name fails loudly.
"""

from __future__ import annotations

import importlib.metadata
import types
from collections.abc import Collection, Mapping

import pluggy

from opencx_salesforce.errors import ConfigError, OpenCXSalesforceError
from opencx_salesforce.hookspecs import PROJECT_NAME, HostHooks
from opencx_salesforce.settings.loader import did_you_mean

_NO_PLUGINS: Mapping[str, object] = types.MappingProxyType({})


class PluginLoadError(OpenCXSalesforceError):
    """A plugin could not be loaded: its import failed, or it implements a hook
    nobody specifies (a typo). The message names the plugin and the hook."""


def make_plugin_manager(
    load_entrypoints: bool = True,
    plugins: Mapping[str, object] = _NO_PLUGINS,
    only: Collection[str] | None = None,
) -> pluggy.PluginManager:
    """A ready plugin manager for one host.

    :param load_entrypoints: load the plugins installed under the ``opencx``
        entry-point group (each registered under its entry-point name).
    :param plugins: plugin instances to register, by name. An entry point of the
        same name is skipped: the instance given here wins.
    :param only: load only the entry points of these names (the host's
        ``plugins`` setting); a name that is not installed is a ConfigError.
    """
    pm = pluggy.PluginManager(PROJECT_NAME)
    pm.add_hookspecs(HostHooks)
    pm.hook.add_hookspecs.call_historic(kwargs={"pluginmanager": pm})
    if load_entrypoints:
        _load_entrypoints(pm, skip=set(plugins), only=only)
    for name, plugin in plugins.items():
        try:
            pm.register(plugin, name=name)
        except (pluggy.PluginValidationError, ValueError) as exc:
            raise PluginLoadError(f"plugin {name!r}: {exc}") from exc
    _check_hook_names(pm)
    pm.check_pending()
    return pm


def installed_plugin_names() -> list[str]:
    """Names of the plugins installed under the ``opencx`` entry-point group."""
    return sorted({ep.name for ep in importlib.metadata.entry_points(group=PROJECT_NAME)})


def _load_entrypoints(
    pm: pluggy.PluginManager, *, skip: Collection[str], only: Collection[str] | None
) -> None:
    installed = installed_plugin_names()
    if only is not None:
        missing = [name for name in only if name not in installed]
        if missing:
            raise ConfigError(
                f"host.plugins: no installed plugin named {', '.join(map(repr, missing))}; "
                f"installed: {', '.join(installed) or 'none'}"
            )
    for name in installed:
        if name in skip or (only is not None and name not in only):
            continue
        # One entry point at a time, so a broken plugin is named in the error.
        try:
            pm.load_setuptools_entrypoints(PROJECT_NAME, name=name)
        except Exception as exc:
            raise PluginLoadError(f"plugin {name!r} failed to load: {exc!r}") from exc


def _check_hook_names(pm: pluggy.PluginManager) -> None:
    """Name every hookimpl that matches no hookspec, with the closest known hook.
    (``check_pending`` would stop at the first one and suggest nothing.)"""
    callers = {name: getattr(pm.hook, name) for name in vars(pm.hook) if not name.startswith("_")}
    specified = sorted(name for name, caller in callers.items() if caller.has_spec())
    problems = [
        f"plugin {impl.plugin_name!r}: unknown hook {name!r}{did_you_mean(name, specified)}"
        for name, caller in sorted(callers.items())
        if not caller.has_spec()
        for impl in caller.get_hookimpls()
        if not impl.optionalhook
    ]
    if problems:
        raise PluginLoadError("\n".join(problems))
