"""How a request handler reaches the running plugin.

The host mounts the routes before it starts the plugin, so the sub-application
holds a getter, and handlers answer 503 until the plugin runs.
"""

from __future__ import annotations

from collections.abc import Callable

from aiohttp import web

from opencx_salesforce.runtime import Runtime

RuntimeGetter = Callable[[], Runtime | None]
SERVICES_KEY: web.AppKey[RuntimeGetter] = web.AppKey("salesforce_services")


def attach(app: web.Application, get_services: RuntimeGetter) -> None:
    """Let ``app``'s handlers reach the running plugin through ``get_services``."""
    app[SERVICES_KEY] = get_services


def running(request: web.Request) -> Runtime:
    """The running services, or a 503 naming why there are none."""
    services = request.app[SERVICES_KEY]()
    if services is None:
        raise web.HTTPServiceUnavailable(
            text='{"error": "the Salesforce plugin is not started"}',
            content_type="application/json",
        )
    return services
