"""How the SCRT endpoints answer a refused request.

The error bodies of ``/iamessage/api/v2`` are undocumented (MIAW.md §7): the
emulator answers ``{"code", "message"}`` (UNCONFIRMED) with the status the case
calls for, and clients should log status and raw text rather than parse it.
"""

from __future__ import annotations

import json
from typing import Any

from aiohttp import web


class ScrtError(Exception):
    def __init__(
        self, status: int, code: str, message: str, headers: dict[str, str] | None = None
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.headers = headers or {}

    def response(self) -> web.Response:
        return web.Response(
            status=self.status,
            text=json.dumps({"code": self.code, "message": str(self)}),
            content_type="application/json",
            headers=self.headers,
        )


def bad_request(message: str) -> ScrtError:
    return ScrtError(400, "INVALID_REQUEST", message)


async def json_body(request: web.Request) -> dict[str, Any]:
    """The request's JSON object; the token endpoints take "only Content-Type:
    application/json" [src: MIAW.md §2, ref generateAccessTokenForUnauthenticatedUser]."""
    if request.content_type != "application/json":
        raise ScrtError(415, "UNSUPPORTED_MEDIA_TYPE", "Content-Type must be application/json")
    raw = await request.read()
    try:
        body = json.loads(raw) if raw.strip() else None
    except (UnicodeDecodeError, json.JSONDecodeError):
        body = None
    if not isinstance(body, dict):
        raise bad_request("the body must be a JSON object")
    return body


def text_field(body: dict[str, Any], name: str, *, required: bool = True) -> str | None:
    value = body.get(name)
    if value is None and not required:
        return None
    if not isinstance(value, str) or not value:
        raise bad_request(f"{name}: required, a non-empty string")
    return value
