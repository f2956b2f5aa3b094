"""Cross-site request forgery protection for the settings page's forms.

A signed double-submit cookie: the browser gets a random cookie, and every form
carries ``HMAC(key, cookie)``. A POST is accepted only when the two agree. Another
site can make the admin's browser *send* the cookie, but it cannot *read* it, so
it cannot put the matching value in its forged form. The HMAC (with a key kept in
the store, shared by every host instance) also stops an attacker who can *write*
cookies for the host (a sibling subdomain, plain http on the way) from planting
a cookie and a form value of their own choosing.

Requests authenticated with ``Authorization: Bearer`` and carrying no cookie at
all skip the check (see :func:`needs_csrf_check`).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Mapping

from aiohttp import web

from opencx_salesforce.store import namespaces
from opencx_salesforce.store.base import Store

COOKIE = "opencx_sf_csrf"
FIELD = "csrf_token"
HEADER = "X-CSRF-Token"
KEY_NS = namespaces.STATE
KEY_NAME = "csrf_key"


class CsrfKey:
    """The per-install signing key, made once and shared through the store."""

    def __init__(self, key: bytes) -> None:
        self._key = key

    @classmethod
    async def load(cls, store: Store) -> CsrfKey:
        # A read when the key exists (every page view): showing a page writes nothing.
        key = await store.get(KEY_NS, KEY_NAME)
        if key is not None:
            return cls(key)
        # set_if_absent: two instances starting together agree on one key.
        await store.set_if_absent(KEY_NS, KEY_NAME, secrets.token_bytes(32))
        key = await store.get(KEY_NS, KEY_NAME)
        if key is None:  # deleted between the two calls: make another
            key = secrets.token_bytes(32)
            await store.set(KEY_NS, KEY_NAME, key)
        return cls(key)

    def sign(self, cookie: str) -> str:
        # surrogateescape: a cookie of bytes that are not UTF-8 (aiohttp keeps
        # them as surrogates) is a cookie like any other, not a 500.
        return hmac.new(self._key, _raw(cookie), hashlib.sha256).hexdigest()

    def token_for(self, request: web.Request) -> tuple[str, str | None]:
        """The form token for this browser, and the cookie to send with the page
        when the browser has none yet (else ``None``)."""
        cookie = request.cookies.get(COOKIE)
        if cookie:
            return self.sign(cookie), None
        cookie = secrets.token_urlsafe(32)
        return self.sign(cookie), cookie

    def valid(self, request: web.Request, submitted: str | None) -> bool:
        cookie = request.cookies.get(COOKIE)
        if not cookie or not submitted:
            return False
        # Constant time: the comparison must not tell how many characters matched.
        return hmac.compare_digest(self.sign(cookie).encode(), _raw(submitted.strip()))


def set_cookie(response: web.StreamResponse, cookie: str, *, path: str, secure: bool) -> None:
    """Send a cookie made by :meth:`CsrfKey.token_for`."""
    response.set_cookie(
        COOKIE,
        cookie,
        path=path,
        httponly=True,  # the page reads the token from the form, never the cookie
        secure=secure,
        # Strict: never sent with a request another site started; the forms and the
        # popup's fetch are same-site.
        samesite="Strict",
    )


def needs_csrf_check(request: web.Request) -> bool:
    """Whether a state-changing request must carry the form token.

    CSRF works because a browser attaches *ambient* credentials (cookies, cached
    HTTP Basic credentials) to requests another site makes it send. A bearer token
    is never ambient: a page on another site cannot add an ``Authorization:
    Bearer`` header to a cross-origin request without a CORS preflight, which
    these routes never approve. So a request proving itself with a bearer token
    and carrying no cookies is a script acting deliberately, and needs no token.
    Any request with cookies is treated as a browser's and must show the token.
    """
    scheme, _, credentials = request.headers.get("Authorization", "").partition(" ")
    bearer = scheme.lower() == "bearer" and bool(credentials.strip())
    return not (bearer and not request.cookies)


def submitted_token(request: web.Request, form: Mapping[str, object]) -> str | None:
    value = form.get(FIELD)
    if isinstance(value, str) and value:
        return value
    return request.headers.get(HEADER)


def _raw(text: str) -> bytes:
    return text.encode("utf-8", "surrogateescape")
