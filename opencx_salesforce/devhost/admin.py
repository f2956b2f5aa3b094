"""Who is an administrator of the reference host.

Scripts send ``Authorization: Bearer <admin_token>``. Browsers log in once at
``/admin/login`` with the same token and get a cookie naming a sign-in session
that lives in the host's store, so every host instance sharing the store accepts
it, signing out ends it everywhere at once, and changing the token logs everybody
out (the cookie is also signed with a key derived from the token).

Whether a request comes from an administrator is decided once per request by
:meth:`AdminAuth.middleware` (it needs the store, so it is asynchronous); the
synchronous ``Host.is_admin(request)`` of the host contract reads that decision.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import secrets
import time
from collections.abc import Awaitable, Callable
from urllib.parse import urlsplit

from aiohttp import web

from opencx_salesforce.devhost.login_throttle import LoginThrottle
from opencx_salesforce.devhost.pages import read_form, render_page
from opencx_salesforce.store.base import Store

log = logging.getLogger(__name__)

ADMIN_COOKIE = "opencx_admin"
COOKIE_LIFETIME_SECONDS = 12 * 3600
LOGIN_PATH = "/admin/login"
LOGOUT_PATH = "/admin/logout"
ADMIN_HOME = "/admin/"
SESSIONS_NAMESPACE = "devhost.admin_sessions"
# A signed expiry is unix seconds: 10 digits today. Anything much longer is not a
# cookie this host made, and int() of 4,300+ digits raises instead of answering.
_MAX_EXPIRY_DIGITS = 12
_IS_ADMIN = "opencx_is_admin"  # the request mapping key the middleware's decision goes in

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class AdminAuth:
    def __init__(
        self,
        token: str,
        *,
        secure_cookie: bool,
        plugin_paths: Callable[[], list[str]],
        store: Callable[[], Store],
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._token = token.encode()
        self._cookie_key = hmac.new(self._token, b"opencx admin cookie", hashlib.sha256).digest()
        self._secure_cookie = secure_cookie
        self._plugin_paths = plugin_paths
        self._store = store
        self._clock = clock
        self._throttle = LoginThrottle()

    # --- checks --------------------------------------------------------------------
    @web.middleware
    async def middleware(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        request[_IS_ADMIN] = await self._check(request)
        return await handler(request)

    def is_admin(self, request: web.Request) -> bool:
        """The decision :meth:`middleware` took for this request; a request that
        did not pass through it is admin only with the bearer token."""
        decided = request.get(_IS_ADMIN)
        if isinstance(decided, bool):
            return decided
        return self._bearer_ok(request)

    def _bearer_ok(self, request: web.Request) -> bool:
        scheme, _, credentials = request.headers.get("Authorization", "").partition(" ")
        return (
            scheme.lower() == "bearer"
            and bool(credentials)
            and hmac.compare_digest(
                credentials.strip().encode("utf-8", "surrogateescape"), self._token
            )
        )

    async def _check(self, request: web.Request) -> bool:
        if request.headers.get("Authorization"):
            return self._bearer_ok(request)
        session = self._session_of(request)
        return (
            session is not None and await self._store().get(SESSIONS_NAMESPACE, session) is not None
        )

    def _session_of(self, request: web.Request) -> str | None:
        """The sign-in session a well-signed, unexpired cookie names, else None."""
        value = request.cookies.get(ADMIN_COOKIE)
        if value is None:
            return None
        session, _, rest = value.partition(".")
        expires_text, _, signature = rest.partition(".")
        # ASCII digits only (str.isdigit() also accepts "¹²", which int() refuses),
        # and only as many as a unix time has.
        if not (
            expires_text.isascii()
            and expires_text.isdigit()
            and len(expires_text) <= _MAX_EXPIRY_DIGITS
            and session.isascii()
            and session.isalnum()
        ):
            return None
        expires = int(expires_text)
        signed = hmac.compare_digest(
            _raw(signature),
            self._sign(session, expires).encode("ascii"),
        )
        return session if signed and expires > self._clock() else None

    def _sign(self, session: str, expires: int) -> str:
        return hmac.new(
            self._cookie_key, f"{session}.{expires}".encode(), hashlib.sha256
        ).hexdigest()

    def logout_token(self, session: str) -> str:
        """The CSRF token the sign-out form carries: bound to the sign-in session."""
        return hmac.new(self._cookie_key, f"logout {session}".encode(), hashlib.sha256).hexdigest()

    # --- routes --------------------------------------------------------------------
    def routes(self) -> list[web.RouteDef]:
        return [
            web.get(LOGIN_PATH, self._login_form),
            web.post(LOGIN_PATH, self._login),
            web.post(LOGOUT_PATH, self._logout),
            web.get(ADMIN_HOME, self._home),
            web.get("/", self._root),
        ]

    async def _root(self, request: web.Request) -> web.Response:
        """The host's front door: the admin landing page (or its sign-in)."""
        raise web.HTTPSeeOther(ADMIN_HOME)

    async def _login_form(self, request: web.Request) -> web.Response:
        return _login_page(_safe_next(request.query.get("next")), error=None)

    async def _login(self, request: web.Request) -> web.Response:
        form = await read_form(request)
        token = _raw(form.get("token", "").strip())
        next_path = _safe_next(form.get("next", ""))
        address = request.remote or "unknown"
        wait = self._throttle.wait_for(address)
        if wait:
            response = _login_page(
                next_path,
                error=f"Too many wrong tokens from your address: try again in {wait:.0f} s.",
                status=429,
            )
            response.headers["Retry-After"] = f"{wait:.0f}"
            return response
        if not hmac.compare_digest(token, self._token):
            self._throttle.failed(address)
            if self._throttle.wait_for(address):
                log.warning("admin sign-in: too many wrong tokens from %s; it waits", address)
            return _login_page(next_path, error="Wrong token.", status=401)
        self._throttle.succeeded(address)
        session = secrets.token_hex(16)
        expires = int(self._clock()) + COOKIE_LIFETIME_SECONDS
        await self._store().set(
            SESSIONS_NAMESPACE, session, str(expires).encode(), ttl=COOKIE_LIFETIME_SECONDS
        )
        response = web.HTTPSeeOther(next_path)
        response.set_cookie(
            ADMIN_COOKIE,
            f"{session}.{expires}.{self._sign(session, expires)}",
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
        session = self._session_of(request)
        if session is not None:
            form = await read_form(request)
            if not hmac.compare_digest(
                _raw(form.get("csrf", "")),
                self.logout_token(session).encode(),
            ):
                raise web.HTTPForbidden(
                    text="Sign-out refused: the form's check value is missing or wrong. "
                    "Sign out with the button on the admin page.",
                )
            # Ends the session on every instance: the cookie alone is worth nothing now.
            await self._store().delete(SESSIONS_NAMESPACE, session)
        response = web.HTTPSeeOther(LOGIN_PATH)
        response.del_cookie(ADMIN_COOKIE, path="/")
        raise response

    async def _home(self, request: web.Request) -> web.Response:
        session = self._session_of(request)
        if not self.is_admin(request):
            raise web.HTTPSeeOther(f"{LOGIN_PATH}?next={ADMIN_HOME}")
        return render_page(
            "home.html",
            title="Signed in",
            # A plugin's mount point leads to its own page (its settings).
            plugin_links=[
                (f"{path.rstrip('/').rsplit('/', 1)[-1].replace('_', ' ').title()} settings", path)
                for path in self._plugin_paths()
            ],
            logout_path=LOGOUT_PATH,
            logout_token=None if session is None else self.logout_token(session),
        )


def _raw(text: str) -> bytes:
    """Bytes for a constant-time comparison, whatever characters came in."""
    return text.encode("utf-8", "surrogateescape")


def _safe_next(value: str | None) -> str:
    """A local path to go to after login; anything else (another site, a
    protocol-relative URL) goes to the admin home instead."""
    if not value or not value.startswith("/") or value.startswith("//") or "\\" in value:
        return ADMIN_HOME
    parts = urlsplit(value)
    if parts.scheme or parts.netloc:
        return ADMIN_HOME
    return value


def _login_page(next_path: str, *, error: str | None, status: int = 200) -> web.Response:
    return render_page(
        "login.html",
        status=status,
        title="Sign in",
        login_path=LOGIN_PATH,
        next_path=next_path,
        error=error,
    )
