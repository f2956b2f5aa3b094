"""A client that goes away in the middle of its request is not the server's error.

A process that exits with requests in flight (a benchmark's measurement at the
end of its budget, a test torn down) closes its connections while the emulator
is still reading a body. aiohttp raises ``ConnectionResetError`` in the
handler, and, the handler having raised, logs "Error handling request" with a
traceback, as if the emulator had failed. Nothing failed and there is nobody
to answer: the handler never got the whole body, so it changed nothing (the
emulator's routes read a body whole before they act on it). It is logged as one line at
debug level.
"""

from __future__ import annotations

import logging

from aiohttp import web
from aiohttp.typedefs import Handler

log = logging.getLogger(__name__)

# The status nginx logs for "client closed the request"; nobody receives it.
CLIENT_CLOSED = 499


@web.middleware
async def client_gone_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        return await handler(request)
    except ConnectionResetError:
        log.debug("client went away during %s %s", request.method, request.path)
        return web.Response(status=CLIENT_CLOSED)
