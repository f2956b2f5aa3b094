"""How long a request's URI and headers may be.

Salesforce refuses a URI longer than 16,384 bytes with 414, and a URI and
headers together longer than 16,384 bytes with 431 [src: api_rest errorcodes.htm
"Status Codes and Error Responses"; SALESFORCE.md §2]. The HTTP library under the
emulator refuses any line or header past 8,190 bytes on its own (a plain-text
400), so the emulator raises that ceiling (:data:`PARSER_LINE_LIMIT`) and answers
Salesforce's limits itself. The documents give the statuses and their sentences,
not a body: the body here is the documented sentence as plain text
(UNCONFIRMED). How Salesforce counts the headers is not documented either: here
each header counts as ``name: value``.
"""

from __future__ import annotations

from aiohttp import web
from aiohttp.typedefs import Handler

URI_LIMIT = 16_384
URI_AND_HEADERS_LIMIT = 16_384
# What the HTTP parser lets through, above Salesforce's limits so that they,
# not the parser, decide.
PARSER_LINE_LIMIT = 4 * URI_LIMIT

URI_TOO_LONG = "The length of the URI exceeds the 16,384 byte limit."
HEADERS_TOO_LARGE = "The combined length of the URI and headers exceeds the 16,384 byte limit."


def _headers_length(request: web.Request) -> int:
    return sum(len(name) + 2 + len(value) for name, value in request.raw_headers)


@web.middleware
async def request_size_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """414 / 431 for Salesforce's own resources (``/services/...``)."""
    if request.raw_path.startswith("/services/"):
        uri = len(request.raw_path.encode())
        if uri > URI_LIMIT:
            return web.Response(status=414, text=URI_TOO_LONG)
        if uri + _headers_length(request) > URI_AND_HEADERS_LIMIT:
            return web.Response(status=431, text=HEADERS_TOO_LARGE)
    return await handler(request)
