"""The plugin's HTTP routes, as one sub-application the host mounts under
``/integrations/salesforce`` (:data:`opencx_salesforce.runtime.ROUTE_PREFIX`).

The host mounts routes before it starts the plugin, so handlers reach the running
services through a getter (:mod:`.context`) and answer 503 until they exist.
"""

from __future__ import annotations

from aiohttp import web

from opencx_salesforce.live.routes import add_live_routes
from opencx_salesforce.replies.webhook import add_webhook_routes
from opencx_salesforce.web.admin.routes import add_routes as add_admin_routes
from opencx_salesforce.web.context import RuntimeGetter, attach
from opencx_salesforce.web.health import add_health_routes


async def _home(request: web.Request) -> web.StreamResponse:
    """The mount point itself (what a host lists as the plugin's page) leads to
    the settings page, which does its own admin check."""
    raise web.HTTPFound(request.path.rstrip("/") + "/admin")


def build_routes(get_services: RuntimeGetter) -> web.Application:
    app = web.Application()
    app.router.add_get("/", _home)
    attach(app, get_services)
    add_admin_routes(app)
    add_webhook_routes(app)
    add_health_routes(app)
    add_live_routes(app)
    return app
