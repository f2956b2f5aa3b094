"""Who may use the settings routes, and how a refusal looks to a browser or a
script.

The host decides who is an administrator (``Host.is_admin``). A browser that is
not signed in is sent to the host's sign-in page when the host offers one, so the
admin lands back on the settings page afterwards; everyone else gets 403.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from aiohttp import web

# The sign-in page of hosts that do not say where theirs is: the reference host's
# (opencx_salesforce.devhost.admin.LOGIN_PATH), looked up in the host's own routes
# so that a host without it simply gets a 403.
CONVENTIONAL_LOGIN_PATH = "/admin/login"


def wants_json(request: web.Request) -> bool:
    """A script (asks for JSON, or sends JSON) rather than a browser page."""
    accept = request.headers.get("Accept", "")
    if "application/json" in accept and "text/html" not in accept:
        return True
    return request.content_type == "application/json"


def host_login_url(request: web.Request, host: Any) -> str | None:
    """Where the host signs its administrators in, coming back to this page.

    A host may offer ``admin_login_url(next_path) -> str | None``; otherwise the
    conventional path is used when the host serves it.
    """
    next_path = request.path_qs
    offer = getattr(host, "admin_login_url", None)
    if callable(offer):
        answer = offer(next_path)
        return str(answer) if answer else None
    root = request.match_info.apps[0] if request.match_info.apps else None
    if root is None:
        return None
    for resource in root.router.resources():
        if resource.canonical == CONVENTIONAL_LOGIN_PATH:
            return f"{CONVENTIONAL_LOGIN_PATH}?next={quote(next_path, safe='/')}"
    return None


def refuse(request: web.Request, host: Any) -> web.HTTPException:
    """The answer to someone who is not an administrator."""
    if wants_json(request) or request.path.endswith(".json"):
        return web.HTTPForbidden(
            text='{"error": "administrators only"}', content_type="application/json"
        )
    if request.method == "GET" and not _sent_credentials(request):
        login = host_login_url(request, host)
        if login is not None:
            return web.HTTPSeeOther(login)
    return web.HTTPForbidden(
        text="Administrators only: sign in to the host as an administrator first.",
        content_type="text/plain",
    )


def _sent_credentials(request: web.Request) -> bool:
    # A wrong bearer token is a script's mistake: tell it 403, do not send it to a form.
    return "Authorization" in request.headers
