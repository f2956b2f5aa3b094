"""The emulator's own controls (``/_emulator/...``: a rep's reply, closing a
Case, faults, the package) refuse a write another website's page sends.

A browser sends any page's ``text/plain`` POST across sites without asking
first, with an ``Origin`` naming that page's site; the emulator's own forms
send its own origin, and scripts, SDKs and tests send none. So a write whose
``Origin`` is another site's is refused: a page a developer visits while the
emulator runs cannot reply to a contact as a rep, nor re-point the webhook.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from aiohttp import web

CONTROLS = "/_emulator/"
_SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def same_origin(request: web.Request) -> bool:
    """No ``Origin`` (not a browser's cross-site request), or the emulator's own."""
    origin = request.headers.get("Origin")
    return origin is None or origin == f"{request.scheme}://{request.host}"


@web.middleware
async def same_origin_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    if (
        request.method not in _SAFE_METHODS
        and request.path.startswith(CONTROLS)
        and not same_origin(request)
    ):
        return web.json_response(
            {"error": f"cross-origin request refused (Origin: {request.headers['Origin']})"},
            status=403,
        )
    return await handler(request)
