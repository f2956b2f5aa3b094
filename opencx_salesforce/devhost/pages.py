"""What every page and form of the reference host shares: one look (the
templates extend ``page.html``), the security headers its HTML goes out with, and
reading a posted form without letting bad bytes become a 500."""

from __future__ import annotations

import asyncio
from pathlib import Path
from urllib.parse import urlsplit

import jinja2
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


# How long a client may take to send a request body (the host's
# ``body_read_timeout_seconds``): a client that sends half a body and waits must
# not hold a handler, a connection and its buffer for ever.
BODY_TIMEOUT_KEY = web.AppKey("opencx_body_read_timeout", float)
DEFAULT_BODY_TIMEOUT = 15.0


async def read_body(request: web.Request) -> bytes:
    """The whole body, or 408 when it does not arrive within the host's timeout."""
    timeout = request.config_dict.get(BODY_TIMEOUT_KEY, DEFAULT_BODY_TIMEOUT)
    try:
        async with asyncio.timeout(timeout):
            return await request.read()
    except TimeoutError:
        raise web.HTTPRequestTimeout(
            text=f"The request body did not arrive within {timeout:g} s."
        ) from None


async def read_form(request: web.Request) -> dict[str, str]:
    """The posted text fields. A body aiohttp cannot parse (an unknown charset,
    bytes that are not in it, multipart without a boundary) is the client's
    fault: a 400 that says so."""
    await read_body(request)  # cached: post() parses what arrived in time
    try:
        posted = await request.post()
    except (ValueError, UnicodeDecodeError, LookupError, AssertionError):
        raise web.HTTPBadRequest(
            text="The form could not be read: send it as UTF-8 "
            "application/x-www-form-urlencoded (or multipart with a boundary).",
        ) from None
    return {k: v for k, v in posted.items() if isinstance(v, str)}


def web_link(url: object) -> str | None:
    """``url`` when it is an http(s) address, else None: links built from session
    metadata must not turn a ``javascript:`` or ``data:`` URL into something to
    click."""
    if not isinstance(url, str):
        return None
    return url if urlsplit(url.strip()).scheme.lower() in ("http", "https") else None


templates = jinja2.Environment(
    loader=jinja2.FileSystemLoader(Path(__file__).parent / "templates"),
    autoescape=True,
    undefined=jinja2.StrictUndefined,
)
templates.filters["web_link"] = web_link
# Every page's header links: where an admin goes from anywhere on the host.
NAV = (("Inbox", "/inbox"), ("Admin", "/admin/"))


def render_page(name: str, *, status: int = 200, **context: object) -> web.Response:
    text = templates.get_template(name).render(nav=NAV, **context)
    return web.Response(
        text=text, content_type="text/html", status=status, headers=SECURITY_HEADERS
    )
