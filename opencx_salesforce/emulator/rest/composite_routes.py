"""The composite family over HTTP: ``/services/data/vXX.X/composite...``.

The composite resources are handlers in the REST route table (each
``rest/composite*.py`` module's ``ROUTES``, which :func:`dispatch` collects), so
they are reachable both over HTTP and as subrequests (a Composite subrequest may
call sObject Collections). Over HTTP they go through the REST API's own request
wrapper (:class:`RestApi`): bearer authentication, the daily-limit check, ONE API
call counted for the whole HTTP request however many subrequests it carries, and
the ``Sforce-Limit-Info`` header. [src: api_rest resources_composite_composite_post.htm
"The entire series of requests counts as a single call toward your API limits";
headers_api_usage.htm]

:func:`add_rest_routes` already serves every ``/services/data/...`` path through
that wrapper, composite paths included; :func:`add_composite_routes` registers the
composite paths explicitly with the same wrapper, so an application that mounts
them on their own (or before the REST catch-all) serves them identically.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from aiohttp import web

from opencx_salesforce.emulator.rest.routes import RestApi

if TYPE_CHECKING:
    from opencx_salesforce.emulator.state import EmulatorState

COMPOSITE_PATHS = (
    "/services/data/v{version}/composite",
    "/services/data/v{version}/composite/{resource:.*}",
)


def add_composite_routes(app: web.Application, state: EmulatorState) -> None:
    """Serve Composite, Composite Graph, sObject Tree and sObject Collections under
    ``/services/data/v{version}/composite...`` with the REST API's authentication
    and API-call accounting."""
    api = RestApi(state)
    for path in COMPOSITE_PATHS:
        app.router.add_route("*", path, api.handle)
