"""The reference host's access log, without secrets.

A default access log writes the request line as it came: the webhook's secret
path segment and the OAuth callback's ``code`` and ``state`` would land in every
log file. This one logs the method, the path with secret segments masked, no
query string, the status, the size and the time taken.
"""

from __future__ import annotations

import re

from aiohttp.abc import AbstractAccessLogger
from aiohttp.web import BaseRequest, StreamResponse

# /webhook/<token>: the per-install token is a credential.
_SECRET_SEGMENT = re.compile(r"(/webhook/)[^/]+")


def redact(path: str) -> str:
    return _SECRET_SEGMENT.sub(r"\1…", path)


class RedactingAccessLogger(AbstractAccessLogger):
    def log(self, request: BaseRequest, response: StreamResponse, time: float) -> None:
        query = "?…" if request.query_string else ""
        self.logger.info(
            '%s "%s %s%s" %s %s %.1fms',
            request.remote,
            request.method,
            redact(request.path),
            query,
            response.status,
            response.body_length,
            time * 1000,
        )
