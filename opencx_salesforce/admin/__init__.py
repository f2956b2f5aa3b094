"""The admin's side of connecting to Salesforce: the settings page and its
routes (credentials, Connect, the OAuth callback, status, the package download,
Disconnect, the outbox's dead letters).

``build_routes`` in :mod:`opencx_salesforce.routes` calls :func:`add_admin_routes`
on the plugin's sub-application; the host mounts it under
``/integrations/salesforce``, so the page is ``/integrations/salesforce/admin``.
"""

from __future__ import annotations

from aiohttp import web


def add_admin_routes(app: web.Application) -> None:
    """Add the settings routes to the plugin's sub-application."""
    # Imported here, not at the top: the handlers need opencx_salesforce.routes
    # (running, SERVICES_KEY), and that module imports this one.
    from opencx_salesforce.admin.routes import add_routes

    add_routes(app)


__all__ = ["add_admin_routes"]
