"""Injected trouble, per org: latency, random server errors, lock contention, and
outages — what a client of a real org meets on a bad day.

Knobs live on ``org.faults`` (a :class:`FaultConfig`), so tests set them directly
(and an admin API can later). Random choices come from the config's own seeded
generator, so a test run is reproducible; ``fail_next`` scripts exact failures.

A request belongs to an org when its bearer token does (REST, identity and
userinfo endpoints) or, for the OAuth token endpoint, when its ``client_id`` names
one of the org's Connected Apps.
"""

from __future__ import annotations

import asyncio
import base64
import json
import random
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from aiohttp import web

if TYPE_CHECKING:
    from opencx_salesforce.emulator.org import Org
    from opencx_salesforce.emulator.state import EmulatorState

# Kinds of injected failure.
SERVER_ERROR = "500"
UNAVAILABLE = "503"
LOCK = "lock"
# The connection closes with no answer at all: what a client meets when a server
# or a load balancer drops a kept-alive connection as a request goes out on it.
DISCONNECT = "disconnect"
FAULT_KINDS = (SERVER_ERROR, UNAVAILABLE, LOCK, DISCONNECT)

_WRITE_METHODS = frozenset({"POST", "PATCH", "PUT", "DELETE"})


@dataclass
class FaultConfig:
    """What goes wrong for one org. All off by default."""

    latency_ms: float = 0.0  # added to every request of the org
    latency_jitter_ms: float = 0.0  # plus a uniform 0..jitter
    error_rate: float = 0.0  # probability that a request fails with one of error_kinds
    error_kinds: tuple[str, ...] = (SERVER_ERROR, UNAVAILABLE, LOCK)
    retry_after: int = 30  # seconds, sent with injected 503s
    # 503 bodies as Salesforce's HTML maintenance page instead of a JSON error array.
    maintenance_html: bool = False
    # Outage window on the emulator clock: [start, end); end None = until ended.
    outage_start: float | None = None
    outage_end: float | None = None
    seed: int = 0
    # Records another transaction holds: a save of one of them, or of a record
    # looking up to one, fails with UNABLE_TO_LOCK_ROW. Salesforce locks the
    # record it saves and, on insert or update, the records it looks up to.
    # [src: Record Locking Cheat Sheet (resources.docs.salesforce.com
    #  record_locking_cheatsheet.pdf): "Opportunity inserts lock the related
    #  account record", "the lookup may lock the lookup record"; draes
    #  draes_object_relationships_record_level_locking.htm]
    locked_records: set[str] = field(default_factory=set)
    _random: random.Random = field(init=False, repr=False)
    _scripted: deque[str] = field(init=False, repr=False, default_factory=deque)

    def __post_init__(self) -> None:
        self._random = random.Random(self.seed)

    def reseed(self, seed: int) -> None:
        self.seed = seed
        self._random = random.Random(seed)

    def fail_next(self, kind: str, count: int = 1) -> None:
        """The org's next ``count`` requests fail with ``kind`` (lock failures
        apply to writes; a read passes and leaves the script in place)."""
        if kind not in FAULT_KINDS:
            raise ValueError(f"unknown fault kind {kind!r}; one of {FAULT_KINDS}")
        self._scripted.extend([kind] * count)

    def begin_outage(self, now: float, seconds: float | None = None) -> None:
        self.outage_start = now
        self.outage_end = None if seconds is None else now + seconds

    def end_outage(self) -> None:
        self.outage_start = self.outage_end = None

    def in_outage(self, now: float) -> bool:
        if self.outage_start is None or now < self.outage_start:
            return False
        return self.outage_end is None or now < self.outage_end

    def lock_record(self, record_id: str) -> None:
        """Hold ``record_id`` as another transaction would, until :meth:`unlock_record`."""
        self.locked_records.add(record_id)

    def unlock_record(self, record_id: str) -> None:
        self.locked_records.discard(record_id)

    def reset(self) -> None:
        """Everything off again (the seeded generator restarts)."""
        self.locked_records.clear()
        self.latency_ms = self.latency_jitter_ms = self.error_rate = 0.0
        self.maintenance_html = False
        self.end_outage()
        self._scripted.clear()
        self.reseed(self.seed)

    def delay_seconds(self) -> float:
        jitter = self._random.uniform(0, self.latency_jitter_ms) if self.latency_jitter_ms else 0
        return max(0.0, self.latency_ms + jitter) / 1000.0

    def draw(self, *, is_write: bool) -> str | None:
        """The failure this request gets, if any."""
        if self._scripted:
            kind = self._scripted[0]
            if kind != LOCK or is_write:
                return self._scripted.popleft()
        if self.error_rate <= 0 or self._random.random() >= self.error_rate:
            return None
        kinds = [kind for kind in self.error_kinds if kind != LOCK or is_write]
        return self._random.choice(kinds) if kinds else None


# --- the responses ------------------------------------------------------------------------

# Salesforce's maintenance page is HTML, not JSON: clients must not assume every
# error body parses. (Text is the emulator's own.)
MAINTENANCE_HTML = """<!DOCTYPE html>
<html><head><title>Salesforce - Down for Maintenance</title></head>
<body><h1>Down for Maintenance</h1>
<p>This instance is currently unavailable because of scheduled maintenance.
Please try again later.</p></body></html>
"""


def _json(status: int, body: Any, headers: dict[str, str] | None = None) -> web.Response:
    return web.Response(
        status=status,
        text=json.dumps(body),
        content_type="application/json",
        charset="UTF-8",
        headers=headers,
    )


def unavailable_response(config: FaultConfig, retry_after: int | None) -> web.Response:
    """503: "The server is unavailable to handle the request. Typically this issue
    occurs if the server is down for maintenance or is currently overloaded."
    [src: api_rest errorcodes.htm 503]"""
    headers = {"Retry-After": str(retry_after)} if retry_after is not None else {}
    if config.maintenance_html:
        return web.Response(
            status=503, text=MAINTENANCE_HTML, content_type="text/html", headers=headers
        )
    # The JSON body as recorded from an org ("SERVER_UNAVAILABLE: Server too busy").
    # [src: github.com/restforce/restforce/issues/156] Retry-After is the knob's,
    # not a documented header (UNCONFIRMED that Salesforce sends one).
    body = [{"message": "Server too busy", "errorCode": "SERVER_UNAVAILABLE"}]
    return _json(503, body, headers)


def injected_response(config: FaultConfig, kind: str) -> web.Response:
    if kind == UNAVAILABLE:
        return unavailable_response(config, config.retry_after)
    if kind == LOCK:
        # Row-lock contention fails the save like any other DML error (HTTP 400).
        # [src: SALESFORCE.md §2 UNABLE_TO_LOCK_ROW message; recorded responses in
        #  public issues show errorCode UNABLE_TO_LOCK_ROW with this message]
        body = [
            {
                "message": "unable to obtain exclusive access to this record",
                "errorCode": "UNABLE_TO_LOCK_ROW",
                "fields": [],
            }
        ]
        return _json(400, body)
    # 500: "An error has occurred within Lightning Platform, so the request couldn't
    # be completed." [src: api_rest errorcodes.htm 500]; body as Salesforce's
    # UNKNOWN_EXCEPTION with an ErrorId.
    error_id = config._random.randrange(10**9, 10**10)
    body = [
        {
            "message": "An unexpected error occurred. Please include this ErrorId if you "
            f"contact support: {error_id}-{error_id % 99991} ({-error_id % 10**9})",
            "errorCode": "UNKNOWN_EXCEPTION",
        }
    ]
    return _json(500, body)


# --- which org a request belongs to -----------------------------------------------------------


async def org_of_request(state: EmulatorState, request: web.Request) -> Org | None:
    """The org a request belongs to, when it can be told (see the module docstring)."""
    authorization = request.headers.get("Authorization", "")
    scheme, _, credentials = authorization.partition(" ")
    token = credentials.strip() if scheme.lower() in ("bearer", "oauth") else None
    token = token or request.query.get("oauth_token")
    if token:
        # An invalid token belongs to no org; the route itself answers 401.
        principal = state.auth.principal_for_token(token)
        return state.orgs.get(principal.org_id) if principal is not None else None
    client_id = request.query.get("client_id")
    if scheme.lower() == "basic":
        # Client credentials may come as "Authorization: Basic base64(id:secret)".
        # [src: SALESFORCE.md §1 token request]
        try:
            decoded = base64.b64decode(credentials.strip()).decode()
        except (ValueError, UnicodeDecodeError):
            decoded = ""
        client_id = decoded.partition(":")[0] or client_id
    if (
        client_id is None
        and request.method == "POST"
        and request.can_read_body
        and request.content_type == "application/x-www-form-urlencoded"
    ):
        # aiohttp keeps the body, so the route can still read it.
        form = await request.post()
        value = form.get("client_id")
        client_id = value if isinstance(value, str) else None
    app = state.auth.directory.apps.get(client_id) if client_id else None
    return state.orgs.get(app.org_id) if app is not None else None


Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def faults_middleware(state: EmulatorState) -> Any:
    """aiohttp middleware applying each org's :class:`FaultConfig`."""

    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        if request.path == "/services/data" or request.path == "/services/data/":
            return await handler(request)  # the versions list belongs to no org
        org = await org_of_request(state, request)
        if org is None:
            return await handler(request)
        config = org.faults
        delay = config.delay_seconds()
        if delay:
            await asyncio.sleep(delay)
        now = state.clock.now()
        if config.in_outage(now):
            # During an outage every request of the org is refused with 503, the
            # documented status for "down for maintenance".
            # [src: api_rest errorcodes.htm 503]
            retry = None if config.outage_end is None else max(1, int(config.outage_end - now))
            return unavailable_response(config, retry)
        kind = config.draw(is_write=request.method in _WRITE_METHODS)
        if kind == DISCONNECT:
            # Before the handler: the request is not applied.
            if request.transport is not None:
                request.transport.close()
            return web.Response(status=500)  # written to a closed transport: never seen
        if kind is not None:
            return injected_response(config, kind)
        return await handler(request)

    return middleware
