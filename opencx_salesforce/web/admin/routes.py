"""The settings routes, relative to the plugin's sub-application (the host mounts
it under ``/integrations/salesforce``):

==========================  ====================================================
GET  /admin                 the settings page
POST /admin/credentials     Save Credentials (checked with Salesforce first)
POST /admin/connect         start the OAuth web server flow: 303 to Salesforce,
                            or ``{"url": ...}`` for the page's popup (JSON)
GET  /oauth/callback        where Salesforce sends the browser back (no admin
                            check: the single-use, expiring ``state`` guards it;
                            in :mod:`.oauth_callback`)
POST /admin/disconnect      revoke and forget the grant and saved credentials
GET  /admin/status.json     the connection and outbox state, for scripts
GET  /admin/package.zip     the Salesforce package of this install
POST /admin/dead-letters/retry  queue dead letters again (all, or ``item_id``)
POST /admin/check           run the setup checks of ``doctor`` and show them
GET  /static/{name}         the page's CSS and JavaScript (nothing secret)
==========================  ====================================================

Every ``/admin`` route requires ``host.is_admin(request)``; every POST from a
browser must carry the CSRF token (see :mod:`.csrf`). Scripts use the same routes
with ``Authorization: Bearer <admin token>`` and ``Accept: application/json``.

Nothing here renders, logs or returns a client secret, access token or refresh
token: the page gets a masked hint of the secret, and the status never holds tokens.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import asdict
from typing import Any

from aiohttp import web

from opencx_salesforce.doctor import diagnose
from opencx_salesforce.errors import ConfigError
from opencx_salesforce.log_throttle import LogThrottle, also
from opencx_salesforce.runtime import Runtime
from opencx_salesforce.salesforce.oauth import CredentialCheckOutcome
from opencx_salesforce.salesforce.secrets import SecretsError
from opencx_salesforce.salesforce.tokens import ConnectionState
from opencx_salesforce.store.failures import cause_of, from_the_store
from opencx_salesforce.web.admin import access, connection, csrf, messages
from opencx_salesforce.web.admin.forms import (
    CredentialsInput,
    check_login_url,
    credentials_input,
    read_form,
)
from opencx_salesforce.web.admin.live_card import live_card
from opencx_salesforce.web.admin.messages import Message
from opencx_salesforce.web.admin.oauth_callback import oauth_callback
from opencx_salesforce.web.admin.package import FILE_NAME, package_zip
from opencx_salesforce.web.admin.page import (
    POPUP,
    POPUP_BLOCKED,
    R_ADMIN,
    R_CALLBACK,
    R_CHECK,
    R_CONNECT,
    R_CREDENTIALS,
    R_DISCONNECT,
    R_PACKAGE,
    R_RETRY,
    R_STATIC,
    R_STATUS,
    RETURN_COOKIE,
    RETURN_COOKIE_SECONDS,
    SAME_WINDOW,
    STATIC_FILES,
    message_json,
    refusal,
    see_other,
    settings_page,
    store_wiped,
    urls,
)
from opencx_salesforce.web.admin.views import (
    SECURITY_HEADERS,
    STATIC_DIR,
    OutboxView,
    SalesforceCleanup,
    StatusLine,
    render,
)
from opencx_salesforce.web.context import running

log = logging.getLogger(__name__)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
AdminHandler = Callable[[web.Request, Runtime], Awaitable[web.StreamResponse]]


def add_routes(app: web.Application) -> None:
    app.router.add_get("/admin", admin_route(settings_page), name=R_ADMIN)
    app.router.add_post("/admin/credentials", admin_route(save_credentials), name=R_CREDENTIALS)
    app.router.add_post("/admin/connect", admin_route(connect), name=R_CONNECT)
    app.router.add_get("/oauth/callback", oauth_callback, name=R_CALLBACK)
    app.router.add_post("/admin/disconnect", admin_route(disconnect), name=R_DISCONNECT)
    app.router.add_get("/admin/status.json", admin_route(status_json), name=R_STATUS)
    app.router.add_get("/admin/package.zip", admin_route(download_package), name=R_PACKAGE)
    app.router.add_post("/admin/dead-letters/retry", admin_route(retry_dead_letters), name=R_RETRY)
    app.router.add_post("/admin/check", admin_route(check_setup), name=R_CHECK)
    app.router.add_get("/static/{name}", static_file, name=R_STATIC)


# --- guards -----------------------------------------------------------------------


def admin_route(handler: AdminHandler) -> Handler:
    """Run ``handler`` for administrators only, and check the CSRF token of
    browser POSTs."""

    async def guarded(request: web.Request) -> web.StreamResponse:
        services = running(request)
        if not services.host.is_admin(request):
            raise access.refuse(request, services.host)
        try:
            return await checked(request, services)
        except web.HTTPException:
            raise
        except Exception as exc:
            if not from_the_store(exc):
                raise
            return _store_down(request, exc)

    async def checked(request: web.Request, services: Runtime) -> web.StreamResponse:
        if request.method == "POST" and csrf.needs_csrf_check(request):
            form = await read_form(request)
            key = await csrf.CsrfKey.load(services.host.store)
            if not key.valid(request, csrf.submitted_token(request, form)):
                log.warning(
                    "settings page: refused a POST to %s without a valid CSRF token", request.path
                )
                return await refusal(request, services, messages.CSRF_FAILED, 403)
        return await handler(request, services)

    return guarded


_store_trouble = LogThrottle()
# Pending jobs status.json lists (the count is whole).
PENDING_SHOWN = 100


def _store_down(request: web.Request, exc: Exception) -> web.Response:
    """The settings page, its status.json and its actions while the store fails
    (down, or refusing writes): 503 naming the cause, for a person and for a
    script (it was a bare 500 with a traceback logged for every request)."""
    report = _store_trouble.due()
    if report is not None:
        log.warning("settings page: the store failed (%s)%s", cause_of(exc), also(report))
    # "Failed", not "does not answer": a read-only store answers, and refuses.
    text = (
        f"The store failed ({cause_of(exc)}). The plugin's state is kept there: "
        "this page works again once the store takes reads and writes (readiness shows when)."
    )
    headers = {"Retry-After": "5"}
    if access.wants_json(request) or request.path.endswith(".json"):
        body = {"ok": False, "error": "store_unavailable", "message": text}
        return web.json_response(body, status=503, headers=headers)
    return web.Response(text=text, status=503, headers=headers)


# --- Save Credentials ---------------------------------------------------------------


async def save_credentials(request: web.Request, services: Runtime) -> web.StreamResponse:
    entered = credentials_input(await read_form(request))
    secret = entered.client_secret
    try:
        saved = await services.tokens.credentials()
    except SecretsError:
        saved = None  # unreadable with this key: these credentials replace them
    if not secret and saved is not None and saved.client_id == entered.client_id:
        secret = saved.client_secret  # left empty: keep the saved one
    missing = [
        label
        for label, value in (("the Client ID", entered.client_id), ("the Client Secret", secret))
        if not value
    ]
    if missing:
        return await _credentials_refused(
            request, services, entered, messages.missing_fields_message(missing), 400
        )
    try:
        login_url = check_login_url(
            entered.login_url,
            configured=services.settings.login_url,
            allow_loopback=services.settings.dev_mode,
        )
    except ValueError as exc:
        return await _credentials_refused(
            request, services, entered, messages.bad_login_url_message(str(exc)), 400
        )
    check = await services.oauth.check_client_credentials(
        login_url, entered.client_id, secret, services.redirect_uri
    )
    message = messages.credential_check_message(check, login_url, services.redirect_uri)
    if not check.ok:
        log.info(
            "settings page: Salesforce credentials not saved (%s at %s)", check.outcome, login_url
        )
        status = 502 if check.outcome is CredentialCheckOutcome.UNREACHABLE else 400
        return await _credentials_refused(request, services, entered, message, status)
    await services.tokens.save_credentials(login_url, entered.client_id, secret)
    log.info("settings page: Salesforce credentials saved for %s", login_url)
    if access.wants_json(request):
        body = {"ok": True, **asdict(message), "status": await _status_json(services)}
        return web.json_response(body)
    raise see_other(urls(request).admin, notice="saved")


async def _credentials_refused(
    request: web.Request,
    services: Runtime,
    entered: CredentialsInput,
    message: Message,
    status: int,
) -> web.StreamResponse:
    if access.wants_json(request):
        return web.json_response({"ok": False, **message_json(message)}, status=status)
    return await settings_page(request, services, notices=[message], entered=entered, status=status)


# --- Connect and the callback -------------------------------------------------------


async def connect(request: web.Request, services: Runtime) -> web.StreamResponse:
    form = await read_form(request)
    popup = access.wants_json(request)
    try:
        url = await services.tokens.start_authorization(
            services.redirect_uri, services.settings.scopes.split()
        )
    except ConfigError as exc:
        message = Message(messages.CONNECT_FAILS, "Save the credentials first", str(exc))
        if popup:
            return web.json_response(message_json(message), status=409)
        return await settings_page(request, services, notices=[message], status=409)
    mode = POPUP if popup else (POPUP_BLOCKED if form.get("popup") == "blocked" else SAME_WINDOW)
    response: web.StreamResponse
    if popup:
        response = web.json_response({"url": url, "redirect_uri": services.redirect_uri})
    else:
        response = web.HTTPSeeOther(url)
    response.set_cookie(
        RETURN_COOKIE,
        mode,
        path=str(request.app.router[R_CALLBACK].url_for()),
        max_age=RETURN_COOKIE_SECONDS,
        httponly=True,
        secure=services.host.public_url.startswith("https://"),
        samesite="Lax",
    )
    if isinstance(response, web.HTTPException):
        raise response
    return response


# --- Disconnect -----------------------------------------------------------------------


async def disconnect(request: web.Request, services: Runtime) -> web.StreamResponse:
    done = await connection.disconnect(services.tokens, services.host.store)
    log.info(
        "settings page: disconnected from Salesforce (revoked at Salesforce: %s)", done.revoked
    )
    if access.wants_json(request):
        cleanup = SalesforceCleanup()
        return web.json_response(
            {
                "revoked": done.revoked,
                "unreadable": done.unreadable,
                "status": await _status_json(services),
                "delete_in_salesforce": {
                    "stop_digest_first": cleanup.stop_digest,
                    "triggers": list(cleanup.triggers),
                    "apex_classes": list(cleanup.apex_classes),
                    "named_credential": cleanup.named_credential,
                    "external_credential": cleanup.external_credential,
                    "custom_metadata_type": cleanup.settings_type,
                    "permission_set": cleanup.permission_set,
                    "permission_sets": list(cleanup.permission_sets),
                },
                "cases": "untouched",
            }
        )
    notice = "disconnected" if done.revoked else "disconnected_unrevoked"
    if done.unreadable:
        notice = "disconnected_unreadable"
    raise see_other(urls(request).admin, notice=notice)


# --- status, package, outbox --------------------------------------------------------


async def status_json(request: web.Request, services: Runtime) -> web.StreamResponse:
    return web.json_response(await _status_json(services), headers={"Cache-Control": "no-store"})


async def _status_json(services: Runtime) -> dict[str, Any]:
    current = await services.tokens.status()
    items = await OutboxView.read(services.outbox, services.clock.time())
    live = current.state in (
        ConnectionState.CONNECTED,
        ConnectionState.NEEDS_REAUTHORIZATION,
    )
    return {
        **asdict(current),
        "state": str(current.state),
        "status_line": StatusLine.of(current).text,
        "redirect_uri": services.redirect_uri,
        "webhook_url": services.webhook_url if live else None,
        "outbox": {
            "pending": len(items.pending),
            "dead": len(items.dead),
            "dead_letters": [asdict(row) for row in items.dead],
            # What the page's Outbox card lists: each pending job's attempts,
            # next try and last error (the oldest first, at most PENDING_SHOWN).
            "pending_jobs": [asdict(row) for row in items.pending[:PENDING_SHOWN]],
            # Salesforce's announced outage holding this instance's work, or None.
            "outage": asdict(items.outage) if items.outage is not None else None,
        },
        # Rep replies coming back: last webhook, deliveries, sweep lag and cost.
        "replies": services.reply_status.to_json(),
        # When the package's last digest arrived (any instance), or None: never.
        "last_digest_at": await services.digests.last_at(),
        # Why the store refused the last write asked of it (a full disk, a
        # read-only replica; asked every 30 s), or None.
        "store_refuses_writes": (
            services.write_watch.refused if services.write_watch is not None else None
        ),
        # A wipe of the store not recovered from yet (store/epoch.py), or None.
        "store_wiped": store_wiped(services, current.connected_at),
        # The Live Messaging card's facts (configured: false without [salesforce.live]).
        "live": (await live_card(services)).to_json(),
        # Closed Cases' keys removed after retention_days: this instance's passes.
        # (None when retention_days is 0: nothing is removed.)
        "retention": (
            services.retention.status.to_json(services.settings.retention_days)
            if services.retention is not None
            else None
        ),
    }


async def download_package(request: web.Request, services: Runtime) -> web.StreamResponse:
    try:
        data = await asyncio.to_thread(
            package_zip,
            services.settings,
            webhook_url=services.webhook_url,
            signing_secret=services.signing_secret,
        )
    except ConfigError as exc:
        raise web.HTTPBadRequest(text=f"cannot build the package: {exc}") from None
    return web.Response(
        body=data,
        content_type="application/zip",
        headers={
            "Content-Disposition": f'attachment; filename="{FILE_NAME}"',
            # It holds the webhook URL (and the signing secret, when set).
            "Cache-Control": "no-store",
        },
    )


async def retry_dead_letters(request: web.Request, services: Runtime) -> web.StreamResponse:
    form = await read_form(request)
    item_id = form.get("item_id") or None
    count = await services.outbox.retry_dead(item_id)
    log.info("settings page: %d dead letter(s) queued again", count)
    if access.wants_json(request):
        return web.json_response({"retried": count})
    notice = "retried" if count else "nothing_to_retry"
    raise see_other(urls(request).admin, notice=notice, count=str(count))


async def check_setup(request: web.Request, services: Runtime) -> web.StreamResponse:
    """The ``doctor`` checks, on demand (a button, not on page load: a run spends
    a few API calls and sends a test ping from the org)."""
    report = await diagnose(services)
    if access.wants_json(request):
        return web.json_response(report.to_json())
    return render("check.html", urls=urls(request), report=report)


async def static_file(request: web.Request) -> web.StreamResponse:
    name = request.match_info["name"]
    content_type = STATIC_FILES.get(name)
    if content_type is None:
        raise web.HTTPNotFound()
    text = await asyncio.to_thread((STATIC_DIR / name).read_text, encoding="utf-8")
    headers = {k: v for k, v in SECURITY_HEADERS.items() if k != "Cache-Control"}
    headers["Cache-Control"] = "no-cache"
    return web.Response(text=text, content_type=content_type, headers=headers)
