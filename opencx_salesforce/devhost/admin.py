"""Who is an administrator of the reference host.

Scripts send ``Authorization: Bearer <admin_token>``. Browsers log in once at
``/admin/login`` with the same token and get a cookie. The cookie is an expiry
signed with a key derived from the token, so every host instance configured with
the token accepts it, and changing the token logs everybody out.
"""

from __future__ import annotations

import hashlib
import hmac
import html
import time
from collections.abc import Callable
from urllib.parse import urlsplit

from aiohttp import web

ADMIN_COOKIE = "opencx_admin"
COOKIE_LIFETIME_SECONDS = 12 * 3600
LOGIN_PATH = "/admin/login"
LOGOUT_PATH = "/admin/logout"
ADMIN_HOME = "/admin/"


class AdminAuth:
    def __init__(
        self,
        token: str,
        *,
        secure_cookie: bool,
        plugin_paths: Callable[[], list[str]],
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._token = token.encode()
        self._cookie_key = hmac.new(self._token, b"opencx admin cookie", hashlib.sha256).digest()
        self._secure_cookie = secure_cookie
        self._plugin_paths = plugin_paths
        self._clock = clock

    # --- checks --------------------------------------------------------------------
    def is_admin(self, request: web.Request) -> bool:
        scheme, _, credentials = request.headers.get("Authorization", "").partition(" ")
        if scheme.lower() == "bearer" and credentials:
            return hmac.compare_digest(credentials.strip().encode(), self._token)
        cookie = request.cookies.get(ADMIN_COOKIE)
        return cookie is not None and self._cookie_valid(cookie)

    def _sign(self, expires: int) -> str:
        return hmac.new(self._cookie_key, str(expires).encode(), hashlib.sha256).hexdigest()

    def _make_cookie(self) -> str:
        expires = int(self._clock()) + COOKIE_LIFETIME_SECONDS
        return f"{expires}.{self._sign(expires)}"

    def _cookie_valid(self, value: str) -> bool:
        expires_text, _, signature = value.partition(".")
        # ASCII digits only: str.isdigit() also accepts "¹²", which int() refuses.
        if not (expires_text.isascii() and expires_text.isdigit()):
            return False
        expires = int(expires_text)
        return expires > self._clock() and hmac.compare_digest(
            signature.encode("utf-8", "surrogateescape"), self._sign(expires).encode("ascii")
        )

    # --- routes --------------------------------------------------------------------
    def routes(self) -> list[web.RouteDef]:
        return [
            web.get(LOGIN_PATH, self._login_form),
            web.post(LOGIN_PATH, self._login),
            web.post(LOGOUT_PATH, self._logout),
            web.get(ADMIN_HOME, self._home),
        ]

    async def _login_form(self, request: web.Request) -> web.Response:
        return _page(_login_html(_safe_next(request.query.get("next")), error=None))

    async def _login(self, request: web.Request) -> web.Response:
        form = await request.post()
        token = str(form.get("token", "")).strip().encode()
        next_path = _safe_next(str(form.get("next", "")))
        if not hmac.compare_digest(token, self._token):
            return _page(_login_html(next_path, error="Wrong token."), status=401)
        response = web.HTTPSeeOther(next_path)
        response.set_cookie(
            ADMIN_COOKIE,
            self._make_cookie(),
            max_age=COOKIE_LIFETIME_SECONDS,
            path="/",
            httponly=True,
            secure=self._secure_cookie,
            # Lax: sent on top-level navigations (the OAuth callback comes back
            # as one) but not on cross-site POSTs, which blocks CSRF on forms.
            samesite="Lax",
        )
        raise response

    async def _logout(self, request: web.Request) -> web.Response:
        response = web.HTTPSeeOther(LOGIN_PATH)
        response.del_cookie(ADMIN_COOKIE, path="/")
        raise response

    async def _home(self, request: web.Request) -> web.Response:
        if not self.is_admin(request):
            raise web.HTTPSeeOther(f"{LOGIN_PATH}?next={ADMIN_HOME}")
        links = "".join(
            f'<li><a href="{html.escape(path)}">{html.escape(path)}</a></li>'
            for path in self._plugin_paths()
        )
        body = (
            "<h1>Signed in</h1><p>Plugin routes on this host:</p>"
            f"<ul>{links or '<li>none</li>'}</ul>"
            f'<form method="post" action="{LOGOUT_PATH}"><button>Sign out</button></form>'
        )
        return _page(body)


def _safe_next(value: str | None) -> str:
    """A local path to go to after login; anything else (another site, a
    protocol-relative URL) goes to the admin home instead."""
    if not value or not value.startswith("/") or value.startswith("//") or "\\" in value:
        return ADMIN_HOME
    parts = urlsplit(value)
    if parts.scheme or parts.netloc:
        return ADMIN_HOME
    return value


def _login_html(next_path: str, *, error: str | None) -> str:
    message = f'<p role="alert">{html.escape(error)}</p>' if error else ""
    return (
        "<h1>Administrator sign-in</h1>"
        f"{message}"
        f'<form method="post" action="{LOGIN_PATH}">'
        f'<input type="hidden" name="next" value="{html.escape(next_path)}">'
        '<label>Admin token <input type="password" name="token" autocomplete="current-password" '
        "required autofocus></label> <button>Sign in</button></form>"
    )


def _page(body: str, status: int = 200) -> web.Response:
    document = (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        "<title>opencx host</title></head>"
        f"<body>{body}</body></html>"
    )
    return web.Response(text=document, content_type="text/html", status=status)
