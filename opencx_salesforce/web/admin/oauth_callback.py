"""``GET /oauth/callback``: where Salesforce sends the admin's browser back after
Connect. It finishes the OAuth web server flow and answers the way the settings
page opened it (popup, same window, blocked popup). It is the one settings route
without an admin check (the single-use ``state`` guards it), so it lives apart
from the guarded routes of :mod:`.routes`.
"""

from __future__ import annotations

import logging

from aiohttp import web

from opencx_salesforce.salesforce.errors import (
    AuthorizationError,
    SalesforceError,
    TransportError,
)
from opencx_salesforce.salesforce.oauth import callback_error
from opencx_salesforce.web.admin import messages
from opencx_salesforce.web.admin.messages import Message
from opencx_salesforce.web.admin.page import (
    POPUP,
    POPUP_BLOCKED,
    RETURN_COOKIE,
    SAME_WINDOW,
    see_other,
    urls,
)
from opencx_salesforce.web.admin.views import StatusLine, render
from opencx_salesforce.web.context import running

# Logged under the routes module's name, as before the split (log filters use it).
log = logging.getLogger("opencx_salesforce.web.admin.routes")


async def oauth_callback(request: web.Request) -> web.StreamResponse:
    """Salesforce sends the browser here with ``code`` and ``state``, or with
    ``error``. No admin check: the ``state`` made at Connect is the proof, good for
    one use within ten minutes (the TokenManager keeps and deletes it)."""
    services = running(request)
    mode = request.cookies.get(RETURN_COOKIE, POPUP)
    query = request.query
    try:
        if "error" in query:
            # Its sign-in link is spent: a replay of it must not go on to trade a code.
            state = query.get("state", "")
            if not state or not await services.tokens.abandon_authorization(state):
                # Not Salesforce's answer to a sign-in started here: its text is
                # not shown on this host's page (a link anyone can make, with
                # any words in it, such as "re-enter your token at ...").
                raise AuthorizationError(
                    "invalid_state",
                    "the sign-in link expired or was already used",
                    hint="Click Connect again.",
                )
            raise callback_error(query["error"], query.get("error_description", ""))
        code, state = query.get("code", ""), query.get("state", "")
        if not code or not state:
            raise AuthorizationError(
                "invalid_request",
                "the callback carries no code or state",
                hint="Start from the settings page: click Connect to Salesforce.",
            )
        status = await services.tokens.complete_authorization(code, state)
    except AuthorizationError as exc:
        log.warning("Salesforce sign-in failed: %s", exc.error)
        message = messages.callback_message(exc, services.redirect_uri)
        return _callback_page(request, message, status=400)
    except TransportError as exc:
        log.warning("Salesforce sign-in failed: Salesforce unreachable (%s)", exc.message)
        return _callback_page(request, messages.unreachable_message(exc.message), status=502)
    except SalesforceError as exc:
        log.warning("Salesforce sign-in failed: %s", exc)
        message = Message(
            messages.CONNECT_FAILS,
            "Salesforce answered unexpectedly",
            "Click Connect again; if it repeats, check the Connected App.",
            detail=exc.message,
        )
        return _callback_page(request, message, status=502)
    admin_url = urls(request).admin
    done = StatusLine.of(status)
    if mode in (SAME_WINDOW, POPUP_BLOCKED):
        query_args = {"notice": "connected"}
        if mode == POPUP_BLOCKED:
            query_args["popup"] = "blocked"
        response: web.StreamResponse = see_other(admin_url, **query_args)
    else:
        response = render(
            "callback.html", ok=True, message=None, status_line=done, urls=urls(request)
        )
    response.del_cookie(RETURN_COOKIE, path=request.path)
    if isinstance(response, web.HTTPException):
        raise response
    return response


def _callback_page(request: web.Request, message: Message, *, status: int) -> web.Response:
    response = render(
        "callback.html",
        status=status,
        ok=False,
        message=message,
        status_line=None,
        urls=urls(request),
    )
    response.del_cookie(RETURN_COOKIE, path=request.path)
    return response
