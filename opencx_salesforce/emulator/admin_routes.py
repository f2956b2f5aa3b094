"""Everything under ``/_emulator/``: the emulator's own controls, for people and
tests, not part of any Salesforce API.

=====================================================  =====================================
``GET   /_emulator/``                                  page: every org and its Cases
``GET   /_emulator/orgs/{orgId}/cases/{caseId}``       page: one Case, with the rep's forms
``POST  /_emulator/orgs/{orgId}/cases/{caseId}/reply`` a rep's comment {"text", "user", "public"}
``POST  .../note`` ``.../email`` ``.../status``        internal note, outgoing email, status
``POST  .../close`` ``.../reopen``                     (see :mod:`~opencx_salesforce.emulator.rep`)
``GET   /_emulator/orgs/{orgId}/stats``                API calls by endpoint, webhook counters
``GET|POST /_emulator/orgs/{orgId}/faults``            read / set the API and webhook fault knobs
``GET|POST /_emulator/orgs/{orgId}/package``           the package's state / deploy it
``GET   /_emulator/orgs/{orgId}/webhooks``             the webhook log, newest last
``POST  /_emulator/orgs/{orgId}/digest``               the digest: {"action": "start" |
                                                       "stop" | "run_due"}
=====================================================  =====================================

No authentication: it is a local tool, and the CLI binds to loopback only. Form
posts from another origin are refused (see ``rep.py``).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import asdict
from typing import TYPE_CHECKING, Any

from aiohttp import web

from opencx_salesforce.emulator.faults import FaultConfig
from opencx_salesforce.emulator.package import (
    PackageFaults,
    WebhookCounters,
    apex_runtime,
    deploy_package,
    deployment_of,
    find_runtime,
    iter_runtimes,
)
from opencx_salesforce.emulator.rep import RepRoutes, see_other
from opencx_salesforce.emulator.views import Views
from opencx_salesforce.errors import ConfigError

if TYPE_CHECKING:
    from opencx_salesforce.emulator.org import Org
    from opencx_salesforce.emulator.state import EmulatorState

PREFIX = "/_emulator"


def add_admin_routes(app: web.Application, state: EmulatorState) -> None:
    """Add the ``/_emulator/`` routes to the emulator's app, and stop the simulated
    package's callouts still in flight when the app shuts down."""
    views = Views(state)
    admin = AdminApi(state)

    async def to_index(request: web.Request) -> web.Response:
        return see_other(f"{PREFIX}/")

    app.router.add_get(PREFIX, to_index)
    app.router.add_get(f"{PREFIX}/", views.index)
    app.router.add_get(f"{PREFIX}/orgs/{{org_id}}/cases/{{case_id}}", views.case_page)

    async def lightning_record(request: web.Request) -> web.Response:
        # Where a real org opens a record in Lightning Experience
        # (/lightning/r/Case/<Id>/view); here, the Case page of the org holding it.
        case_id = request.match_info["record_id"]
        for org in state.orgs.values():
            if org.stored("Case", case_id) is not None:
                raise web.HTTPSeeOther(f"{PREFIX}/orgs/{org.id}/cases/{case_id}")
        raise web.HTTPNotFound(text=f"no Case {case_id} in this emulator")

    app.router.add_get("/lightning/r/Case/{record_id}/view", lightning_record)
    RepRoutes(state).add_to(app)
    app.router.add_get(f"{PREFIX}/orgs/{{org_id}}/stats", admin.stats)
    app.router.add_get(f"{PREFIX}/orgs/{{org_id}}/faults", admin.faults)
    app.router.add_post(f"{PREFIX}/orgs/{{org_id}}/faults", admin.set_faults)
    app.router.add_get(f"{PREFIX}/orgs/{{org_id}}/package", admin.package)
    app.router.add_post(f"{PREFIX}/orgs/{{org_id}}/package", admin.deploy)
    app.router.add_get(f"{PREFIX}/orgs/{{org_id}}/webhooks", admin.webhooks)
    app.router.add_post(f"{PREFIX}/orgs/{{org_id}}/digest", admin.digest)

    async def stop_callouts(app: web.Application) -> None:
        for runtime in list(iter_runtimes(state.orgs)):
            await runtime.close()

    app.on_cleanup.append(stop_callouts)


class BadRequest(ValueError):
    pass


# knob name -> check and convert the JSON value
Check = Callable[[Any], Any]


def _number(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
        raise BadRequest("expected a number, 0 or more")
    return float(value)


def _rate(value: Any) -> float:
    rate = _number(value)
    if rate > 1:
        raise BadRequest("expected a probability between 0 and 1")
    return rate


def _whole(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise BadRequest("expected a whole number, 0 or more")
    return value


def _flag(value: Any) -> bool:
    if not isinstance(value, bool):
        raise BadRequest("expected true or false")
    return value


API_KNOBS: Mapping[str, Check] = {
    "latency_ms": _number,
    "latency_jitter_ms": _number,
    "error_rate": _rate,
    "retry_after": _whole,
    "maintenance_html": _flag,
    "seed": _whole,
    "outage_seconds": _number,  # begins an outage that long, from now
    "end_outage": _flag,
}
WEBHOOK_KNOBS: Mapping[str, Check] = {
    "drop_rate": _rate,
    "duplicate_rate": _rate,
    "delay_ms": _number,
    "delay_jitter_ms": _number,
    "reorder": _flag,
    "seed": _whole,
}


def _checked(section: str, values: Any, knobs: Mapping[str, Check]) -> dict[str, Any]:
    if not isinstance(values, dict):
        raise BadRequest(f"{section}: expected an object")
    checked = {}
    for name, value in values.items():
        check = knobs.get(name)
        if check is None:
            raise BadRequest(f"{section}.{name}: unknown knob; known: {', '.join(knobs)}")
        try:
            checked[name] = check(value)
        except BadRequest as error:
            raise BadRequest(f"{section}.{name}: {error}") from None
    return checked


def api_faults(config: FaultConfig, now: float) -> dict[str, Any]:
    return {
        "latency_ms": config.latency_ms,
        "latency_jitter_ms": config.latency_jitter_ms,
        "error_rate": config.error_rate,
        "retry_after": config.retry_after,
        "maintenance_html": config.maintenance_html,
        "seed": config.seed,
        "in_outage": config.in_outage(now),
    }


class AdminApi:
    def __init__(self, state: EmulatorState) -> None:
        self.state = state

    def _org(self, request: web.Request) -> Org:
        org = self.state.orgs.get(request.match_info["org_id"])
        if org is None:
            raise web.HTTPNotFound(
                text=json.dumps({"error": f"no org {request.match_info['org_id']}"}),
                content_type="application/json",
            )
        return org

    async def stats(self, request: web.Request) -> web.Response:
        org = self._org(request)
        runtime = find_runtime(org)
        return web.json_response(
            {
                "orgId": org.id,
                "api": {
                    "total": org.api_calls.total,
                    "limit": org.api_calls.limit,
                    "remaining": org.api_calls.remaining,
                    "byEndpoint": dict(org.api_calls.by_endpoint),
                },
                "webhooks": asdict(runtime.counters if runtime else WebhookCounters()),
                "package": deployment_of(org).as_dict(),
            }
        )

    def _faults_body(self, org: Org) -> dict[str, Any]:
        runtime = find_runtime(org)
        return {
            "api": api_faults(org.faults, self.state.clock.now()),
            "webhooks": (runtime.faults if runtime else PackageFaults()).as_dict(),
        }

    async def faults(self, request: web.Request) -> web.Response:
        return web.json_response(self._faults_body(self._org(request)))

    async def set_faults(self, request: web.Request) -> web.Response:
        """``{"reset": true, "api": {...}, "webhooks": {...}}``: reset first, if
        asked, then set the named knobs (see API_KNOBS and WEBHOOK_KNOBS)."""
        org = self._org(request)
        try:
            body = await _json_object(request)
            unknown = set(body) - {"reset", "api", "webhooks"}
            if unknown:
                raise BadRequest(f"unknown key(s): {', '.join(sorted(unknown))}")
            reset = _flag(body.get("reset", False))
            api = _checked("api", body.get("api", {}), API_KNOBS)
            webhooks = _checked("webhooks", body.get("webhooks", {}), WEBHOOK_KNOBS)
        except BadRequest as error:
            return web.json_response({"error": str(error)}, status=400)
        runtime = apex_runtime(org)
        if reset:
            org.faults.reset()
            runtime.faults.reset()
        _apply_api_faults(org.faults, api, self.state.clock.now())
        for name, value in webhooks.items():
            if name == "seed":
                runtime.faults.reseed(value)
            else:
                setattr(runtime.faults, name, value)
        return web.json_response(self._faults_body(org))

    async def package(self, request: web.Request) -> web.Response:
        return web.json_response(deployment_of(self._org(request)).as_dict())

    async def deploy(self, request: web.Request) -> web.Response:
        """``{"webhookUrl": "...", "signingSecret": "..." | null, "includeMessaging":
        false}``: deploy the generated package, as an admin would (with the
        MessagingSession field when ``includeMessaging``)."""
        org = self._org(request)
        try:
            body = await _json_object(request)
            url = body.get("webhookUrl")
            secret = body.get("signingSecret")
            if not isinstance(url, str):
                raise BadRequest("webhookUrl: required")
            if secret is not None and not isinstance(secret, str):
                raise BadRequest("signingSecret: expected a string or null")
            messaging = body.get("includeMessaging", False)
            if not isinstance(messaging, bool):
                raise BadRequest("includeMessaging: expected true or false")
            deploy_package(org, url, secret, include_messaging=messaging)
        except (BadRequest, ConfigError) as error:
            return web.json_response({"error": str(error)}, status=400)
        return web.json_response(deployment_of(org).as_dict())

    async def digest(self, request: web.Request) -> web.Response:
        """``{"action": "start" | "stop" | "run_due"}``: the package's digest, as the
        admin's ``start-digest.apex`` / ``stop-digest.apex`` would; ``run_due`` runs
        it now if its minute on the org's clock has come (a benchmark that moves
        the clock need not wait for the poll). Answers the digest's stats and
        whether it ran."""
        org = self._org(request)
        runtime = find_runtime(org)
        try:
            body = await _json_object(request)
            action = body.get("action")
            if action not in ("start", "stop", "run_due"):
                raise BadRequest("action: expected start, stop or run_due")
            if runtime is None or not deployment_of(org).apex_class:
                raise BadRequest("the package is not deployed")
        except BadRequest as error:
            return web.json_response({"error": str(error)}, status=400)
        ran = False
        if action == "start":
            runtime.digest.start()
        elif action == "stop":
            runtime.digest.stop()
        else:
            ran = await runtime.digest.run_due()
        return web.json_response({"ran": ran, **runtime.digest.stats()})

    async def webhooks(self, request: web.Request) -> web.Response:
        runtime = find_runtime(self._org(request))
        entries = [asdict(entry) for entry in runtime.log] if runtime else []
        return web.json_response({"webhooks": entries})


def _apply_api_faults(config: FaultConfig, knobs: Mapping[str, Any], now: float) -> None:
    for name, value in knobs.items():
        if name == "seed":
            config.reseed(value)
        elif name == "outage_seconds":
            config.begin_outage(now, value)
        elif name == "end_outage":
            if value:
                config.end_outage()
        else:
            setattr(config, name, value)


async def _json_object(request: web.Request) -> dict[str, Any]:
    raw = await request.read()
    try:
        body = json.loads(raw) if raw.strip() else {}
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise BadRequest("body: expected a JSON object") from None
    if not isinstance(body, dict):
        raise BadRequest("body: expected a JSON object")
    return body
