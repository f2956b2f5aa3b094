"""What every page and form of the reference host shares: the security headers
its HTML goes out with, and reading a posted form without letting bad bytes
become a 500."""

from __future__ import annotations

from aiohttp import web

# The host's pages run no script and load nothing from elsewhere: a payload that
# slips past escaping still cannot run. Inline styles are the pages' own.
CONTENT_SECURITY_POLICY = (
    "default-src 'none'; style-src 'unsafe-inline'; img-src 'self' data:; "
    "form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
)
SECURITY_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
}


async def read_form(request: web.Request) -> dict[str, str]:
    """The posted text fields. A body aiohttp cannot parse (an unknown charset,
    bytes that are not in it, multipart without a boundary) is the client's
    fault: a 400 that says so."""
    try:
        posted = await request.post()
    except (ValueError, UnicodeDecodeError, LookupError, AssertionError):
        raise web.HTTPBadRequest(
            text="The form could not be read: send it as UTF-8 "
            "application/x-www-form-urlencoded (or multipart with a boundary).",
        ) from None
    return {k: v for k, v in posted.items() if isinstance(v, str)}
