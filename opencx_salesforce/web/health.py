"""``/healthz/live``, ``/healthz/ready`` and ``/metrics`` on the plugin's
sub-application (see :mod:`opencx_salesforce.health` and
:mod:`opencx_salesforce.metrics`).

The probes are open, as Kubernetes calls them, and answer with states only;
an administrator (``host.is_admin``) also gets the reasons. ``/metrics`` is for
administrators (a scraper sends the admin bearer token), unless the
``metrics_listen`` setting serves it on an internal listener as well.
"""

from __future__ import annotations

from aiohttp import web

from opencx_salesforce import health
from opencx_salesforce.web.admin import access
from opencx_salesforce.web.context import SERVICES_KEY, running

R_LIVE = "salesforce-live"
R_READY = "salesforce-ready"
R_METRICS = "salesforce-metrics"
NO_STORE = {"Cache-Control": "no-store"}


def add_health_routes(app: web.Application) -> None:
    app.router.add_get("/healthz/live", live, name=R_LIVE)
    app.router.add_get("/healthz/ready", ready, name=R_READY)
    app.router.add_get("/metrics", metrics, name=R_METRICS)


def _not_started(request: web.Request) -> web.Response | None:
    if request.app[SERVICES_KEY]() is None:
        return web.json_response(
            {"status": "fail", "checks": {"plugin": "not started"}}, status=503, headers=NO_STORE
        )
    return None


def _answer(request: web.Request, report: health.Report) -> web.Response:
    services = running(request)
    body = report.to_json(with_detail=services.host.is_admin(request))
    return web.json_response(body, status=200 if report.ok else 503, headers=NO_STORE)


async def live(request: web.Request) -> web.Response:
    return _not_started(request) or _answer(request, health.liveness(running(request)))


async def ready(request: web.Request) -> web.Response:
    return _not_started(request) or _answer(request, await health.readiness(running(request)))


async def metrics(request: web.Request) -> web.StreamResponse:
    services = running(request)
    if not services.host.is_admin(request):
        if "text/html" in request.headers.get("Accept", ""):
            raise access.refuse(request, services.host)  # a browser: sign in first
        raise _refuse_scraper(request)
    return await services.metrics.respond(request)


def _refuse_scraper(request: web.Request) -> web.HTTPException:
    """A scraper is not sent to the host's sign-in page, as a browser is: it
    would follow the redirect and fail to parse a form. No credentials: 401
    with the scheme to use (RFC 6750 §3); wrong ones: 403."""
    fix = (
        "send the host's admin token (Authorization: Bearer <admin_token>), "
        "or scrape the metrics_listen address"
    )
    if "Authorization" not in request.headers:
        return web.HTTPUnauthorized(
            text=f"/metrics needs credentials: {fix}.\n",
            headers={"WWW-Authenticate": 'Bearer realm="opencx-salesforce metrics"'},
        )
    return web.HTTPForbidden(text=f"/metrics refused these credentials: {fix}.\n")
