"""The reference host's JSON API: what a bot (or the demo, or a test) calls to
drive conversations. Every ``/api`` route needs the administrator (see
:mod:`.admin`); ``/healthz`` is open.

Errors are JSON: ``{"error": "<kind>", "message": "...", "problems": [...]}``
with 400 (bad body, ``problems`` naming each field), 401, 404 or 409; 503
when the store refused the write, 500 for anything else (see :func:`_in_json`).
"""

from __future__ import annotations

import functools
import json
import logging
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, NoReturn, TypeVar

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from opencx_salesforce.devhost.pages import read_body
from opencx_salesforce.devhost.sessions import SessionStateError, UnknownSessionError
from opencx_salesforce.models import Channel, Contact, HandoffReason, Role
from opencx_salesforce.store.failures import cause_of, from_the_store
from opencx_salesforce.store.probe import probe_write

if TYPE_CHECKING:
    from opencx_salesforce.devhost.host import DevHost

_HEALTH_NAMESPACE = "devhost.health"
log = logging.getLogger(__name__)


class _Body(BaseModel):
    # A misspelt field is an error, not silently dropped.
    model_config = ConfigDict(extra="forbid")


class ContactIn(_Body):
    name: str | None = None
    email: str | None = None
    phone: str | None = None


class NewSession(_Body):
    channel: Channel = Channel.CHAT
    contact: ContactIn = Field(default_factory=ContactIn)
    topic: str = Field(default="", max_length=10_000)
    summary: str = Field(default="", max_length=200_000)
    language: str | None = None
    priority: str | None = None
    metadata: dict[str, Any] = Field(default_factory=dict)


class NewMessage(_Body):
    role: Role
    text: str = Field(min_length=1, max_length=200_000)
    author: str | None = None


class HandoffIn(_Body):
    code: str = Field(default="requested", min_length=1, max_length=200)
    detail: str = Field(default="", max_length=20_000)


class SessionApi:
    def __init__(self, host: DevHost) -> None:
        self._host = host

    def routes(self) -> list[web.RouteDef]:
        return [
            web.get("/healthz", self.healthz),
            web.get("/api/sessions", _in_json(self.list_sessions)),
            web.post("/api/sessions", _in_json(self.create_session)),
            web.get("/api/sessions/{session_id}", _in_json(self.get_session)),
            web.post("/api/sessions/{session_id}/messages", _in_json(self.post_message)),
            web.post("/api/sessions/{session_id}/handoff", _in_json(self.handoff)),
        ]

    async def healthz(self, request: web.Request) -> web.Response:
        """Ok only when the store answers a write and the read-back of it. The
        reason stays in the host's log: callers of this open route learn only
        which part is down."""
        probe = await probe_write(self._host.store, _HEALTH_NAMESPACE)
        if probe.ok:
            return web.json_response({"status": "ok"})
        if probe.error is not None:
            log.error("health check: the store did not take a write", exc_info=probe.error)
        else:
            log.error("health check: the store lost a write it had just taken")
        return web.json_response({"status": "unavailable", "store": "not writable"}, status=503)

    async def list_sessions(self, request: web.Request) -> web.Response:
        self._require_admin(request)
        sessions = await self._host.list_sessions()
        return web.json_response([s.model_dump(mode="json") for s in sessions])

    async def create_session(self, request: web.Request) -> web.Response:
        self._require_admin(request)
        body = await _read(request, NewSession)
        session = await self._host.create_session(
            channel=body.channel,
            contact=Contact(**body.contact.model_dump()),
            topic=body.topic,
            summary=body.summary,
            language=body.language,
            priority=body.priority,
            metadata=body.metadata,
        )
        return web.json_response(session.model_dump(mode="json"), status=201)

    async def get_session(self, request: web.Request) -> web.Response:
        self._require_admin(request)
        session_id = request.match_info["session_id"]
        session = await self._host.get_session(session_id)
        if session is None:
            _fail(web.HTTPNotFound, "not_found", f"no session {session_id!r}")
        return web.json_response(session.model_dump(mode="json"))

    async def post_message(self, request: web.Request) -> web.Response:
        self._require_admin(request)
        body = await _read(request, NewMessage)
        try:
            message = await self._host.post_message(
                request.match_info["session_id"], body.role, body.text, author=body.author
            )
        except UnknownSessionError as exc:
            _fail(web.HTTPNotFound, "not_found", str(exc))
        return web.json_response(message.model_dump(mode="json"), status=201)

    async def handoff(self, request: web.Request) -> web.Response:
        self._require_admin(request)
        body = await _read(request, HandoffIn)
        try:
            session = await self._host.handoff(
                request.match_info["session_id"], HandoffReason(code=body.code, detail=body.detail)
            )
        except UnknownSessionError as exc:
            _fail(web.HTTPNotFound, "not_found", str(exc))
        except SessionStateError as exc:
            _fail(web.HTTPConflict, "conflict", str(exc))
        return web.json_response(session.model_dump(mode="json"))

    def _require_admin(self, request: web.Request) -> None:
        if not self._host.is_admin(request):
            _fail(
                web.HTTPUnauthorized,
                "unauthorized",
                "send Authorization: Bearer <the host's admin_token>",
                headers={"WWW-Authenticate": "Bearer"},
            )


BodyT = TypeVar("BodyT", bound=_Body)
Handler = Callable[[web.Request], Awaitable[web.Response]]


def _in_json(handler: Handler) -> Handler:
    """An error the handler did not expect is answered in the API's JSON too,
    naming its cause (the caller holds the admin token), with the traceback in
    the host's log: a store that refuses writes (a read-only database, Redis
    or PostgreSQL gone) is 503, for the caller to send again later; anything
    else 500. aiohttp answered either with a bare text 500."""

    @functools.wraps(handler)
    async def answer(request: web.Request) -> web.Response:
        try:
            return await handler(request)
        except web.HTTPException:
            raise
        except Exception as exc:
            log.exception("%s %s failed", request.method, request.path)
            cause = cause_of(exc)
            if from_the_store(exc):
                _fail(
                    web.HTTPServiceUnavailable,
                    "store_unavailable",
                    f"the host's store did not take it ({cause}); "
                    "send it again once the store is back",
                    headers={"Retry-After": "5"},
                )
            _fail(
                web.HTTPInternalServerError,
                "internal",
                f"the host failed ({cause}); its log has the details",
            )

    return answer


async def _read(request: web.Request, model: type[BodyT]) -> BodyT:
    try:
        raw = (await read_body(request)).decode("utf-8")
    except UnicodeDecodeError as exc:
        _fail(web.HTTPBadRequest, "bad_request", f"the body is not UTF-8: {exc.reason}")
    try:
        data = json.loads(raw) if raw.strip() else {}
    except json.JSONDecodeError as exc:
        _fail(web.HTTPBadRequest, "bad_request", f"the body is not JSON: {exc}")
    except ValueError:
        # json raises a plain ValueError for an integer past Python's 4,300-digit
        # conversion limit; no field of this API takes such a number.
        _fail(web.HTTPBadRequest, "bad_request", "the body has a number too long to read")
    except RecursionError:
        _fail(web.HTTPBadRequest, "bad_request", "the body is JSON nested too deep")
    if not isinstance(data, dict):
        _fail(web.HTTPBadRequest, "bad_request", "the body must be a JSON object")
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        problems = [
            {"field": ".".join(str(p) for p in err["loc"]) or "(body)", "message": err["msg"]}
            for err in exc.errors()
        ]
        described = "; ".join(f"{p['field']}: {p['message']}" for p in problems)
        _fail(web.HTTPBadRequest, "bad_request", described, problems=problems)


def _fail(
    kind: type[web.HTTPException],
    error: str,
    message: str,
    *,
    problems: list[dict[str, str]] | None = None,
    headers: dict[str, str] | None = None,
) -> NoReturn:
    body: dict[str, Any] = {"error": error, "message": message}
    if problems is not None:
        body["problems"] = problems
    raise kind(text=html_safe_json(body), content_type="application/json", headers=headers)


def html_safe_json(value: Any) -> str:
    """JSON with ``<``, ``>`` and ``&`` as ``\\u`` escapes (still the same JSON):
    an error that names what the caller sent cannot become markup if a browser
    ever renders it."""
    text = json.dumps(value)
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
