"""The plugin's HTTP routes, as one sub-application the host mounts under
``/integrations/salesforce``.

The host mounts routes before it starts the plugin, so handlers reach the running
services through a getter and answer 503 until they exist.
"""

from __future__ import annotations

from collections.abc import Callable

from aiohttp import web

from opencx_salesforce.admin import add_admin_routes
from opencx_salesforce.replies.webhook import add_webhook_routes
from opencx_salesforce.runtime import Services

ServicesGetter = Callable[[], Services | None]
SERVICES_KEY: web.AppKey[ServicesGetter] = web.AppKey("salesforce_services")


def running(request: web.Request) -> Services:
    """The running services, or a 503 naming why there are none."""
    services = request.app[SERVICES_KEY]()
    if services is None:
        raise web.HTTPServiceUnavailable(
            text='{"error": "the Salesforce plugin is not started"}',
            content_type="application/json",
        )
    return services


def build_routes(get_services: ServicesGetter) -> web.Application:
    app = web.Application()
    app[SERVICES_KEY] = get_services
    add_admin_routes(app)
    add_webhook_routes(app)
    return app
