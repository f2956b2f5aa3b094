"""Mounting the plugins' web routes in the reference host: each plugin's
``webhook_routes`` answer (an aiohttp Application, or None) becomes a sub-app
under ``/integrations/<plugin name>``; any other answer is a hook error, and the
host goes on without it.
"""

from __future__ import annotations

from collections.abc import Callable

import pluggy
from aiohttp import web

from opencx_salesforce.hookcalls import call_each

INTEGRATIONS_PREFIX = "/integrations"


async def mount_plugin_routes(
    app: web.Application,
    plugin_manager: pluggy.PluginManager,
    record_error: Callable[[str, str, Exception], None],
) -> list[str]:
    """Mount every plugin's routes on ``app``; the mounted path prefixes."""
    mounted: list[str] = []
    answers = await call_each(
        plugin_manager,
        "webhook_routes",
        {},
        record_error,
        await_results=False,
    )
    for name, routes in answers:
        if routes is None:
            continue
        if not isinstance(routes, web.Application):
            if hasattr(routes, "close"):  # a coroutine: close it, or Python warns
                routes.close()
            record_error(
                name,
                "webhook_routes",
                TypeError(
                    f"webhook_routes returned {type(routes).__name__}; expected an "
                    "aiohttp.web.Application or None (not a coroutine)"
                ),
            )
            continue
        prefix = f"{INTEGRATIONS_PREFIX}/{name}"
        app.add_subapp(prefix, routes)
        mounted.append(prefix)
    return mounted
