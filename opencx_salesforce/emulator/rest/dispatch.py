"""One REST request, executed against one org.

:func:`dispatch` is what the HTTP routes call once authentication and API
accounting are done, and what the composite resources call once per subrequest:
it never counts an API call and never raises for an API error (it returns the
error response). Paths look like ``/services/data/v62.0/sobjects/Case/500...``
with an optional ``?query``.

Resources are matched against the route table of :mod:`.route_table` (core
resources, then the ``ROUTES`` of the composite family), which the emulator's
state holds (``EmulatorState.rest_routes``);
an org may carry extra routes (``Org.rest_routes``, checked first) so a test can
simulate what a deployed package adds, e.g. ``tooling/executeAnonymous``::

    org.add_rest_route(Route.of("tooling/executeAnonymous", GET=my_handler))
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, unquote, urlsplit

from opencx_salesforce.emulator.rest.errors import (
    ApiError,
    method_not_allowed,
    not_found,
    retired_version,
)

if TYPE_CHECKING:
    from opencx_salesforce.emulator.oauth.server import Principal
    from opencx_salesforce.emulator.org import Org

# Oldest version still served: 21.0–30.0 "As of Summer '25, these versions are
# retired and unavailable" and a retired version answers "410:GONE"; 7.0–20.0 were
# retired in Summer '22. [src: developer.salesforce.com/docs/platform/connect-rest-api/
# guide/intro_api_eol.html "API End-of-Life Policy"; help.salesforce.com 000354473]
MIN_API_VERSION = 31.0
OLDEST_RETIRED_API_VERSION = 7.0  # below it no version ever existed: 404
# Newest version the emulator's org runs: Winter '27, the release of the
# emulator's calendar (December 2026), which the current docs' examples use
# [src: developer.salesforce.com/docs/platform/api-rest/guide/dome-discoveryresource.md
# "List Available REST Resources" (v68.0); dome-upsert.html (v68.0)]. (65.0, Winter
# '26, answered 404 to an integration pinned to a current version.) A newer one is
# unknown to the org: the resource "doesn't exist", so 404 NOT_FOUND. [src: api_rest
# errorcodes.htm 404; the status for an unreleased version is UNCONFIRMED in the docs]
LATEST_API_VERSION = 68.0

_PREFIX = re.compile(r"^/services/data/v(?P<version>\d+\.\d)(?:/(?P<rest>.*))?$")


@dataclass
class RestResponse:
    status: int
    body: Any  # JSON-ready, or None for an empty body
    headers: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class RestRequest:
    """A parsed REST request as handlers see it."""

    org: Org
    principal: Principal
    method: str
    version: str  # "62.0"
    path: str  # after "/services/data/vXX.X/", no leading or trailing slash
    query: Mapping[str, Sequence[str]]
    body: Any
    headers: Mapping[str, str]
    match: re.Match[str] | None = None

    @property
    def api_version(self) -> float:
        return float(self.version)

    def param(self, name: str) -> str | None:
        values = self.query.get(name)
        return values[0] if values else None

    def header(self, name: str) -> str | None:
        lowered = name.lower()
        for key, value in self.headers.items():
            if key.lower() == lowered:
                return value
        return None

    def url_for(self, resource: str) -> str:
        return f"/services/data/v{self.version}/{resource}"


Handler = Callable[[RestRequest], Awaitable[RestResponse]]


@dataclass(frozen=True)
class Route:
    """``pattern`` matches the whole path after the version (no leading slash)."""

    pattern: re.Pattern[str]
    handlers: Mapping[str, Handler]  # HTTP method -> handler

    @classmethod
    def of(cls, pattern: str, **handlers: Handler) -> Route:
        return cls(re.compile(f"^{pattern}$"), {m.upper(): h for m, h in handlers.items()})


def split_url(url: str) -> tuple[str, str, dict[str, list[str]]]:
    """``(version, path, query)`` of a ``/services/data/vXX.X/...`` URL; raises
    :class:`ApiError` 404 when it is not one."""
    parts = urlsplit(collapse_leading_slashes(url))
    matched = _PREFIX.match(parts.path)
    if matched is None:
        raise not_found()
    version = matched["version"]
    if OLDEST_RETIRED_API_VERSION <= float(version) < MIN_API_VERSION:
        raise retired_version()
    if not MIN_API_VERSION <= float(version) <= LATEST_API_VERSION:
        raise not_found()
    path = (matched["rest"] or "").strip("/")
    return version, path, parse_qs(parts.query, keep_blank_values=True)


def collapse_leading_slashes(url: str) -> str:
    """``//services/data/...`` as ``/services/data/...``: the Salesforce CLI stores
    instance URLs ending in "/" and so sends "//". [src: github.com/forcedotcom/cli
    issue 361; SALESFORCE.md §2; that orgs answer such URLs is UNCONFIRMED in the docs]
    (Without this, urlsplit would read "services" as a host name.)"""
    return "/" + url.lstrip("/") if url.startswith("//") else url


def _find(routes: Sequence[Route], path: str) -> tuple[Route, re.Match[str]] | None:
    for route in routes:
        matched = route.pattern.match(path)
        if matched is not None:
            return route, matched
    return None


async def dispatch(
    org: Org,
    principal: Principal,
    method: str,
    url: str,
    body: Any,
    *,
    headers: Mapping[str, str] | None = None,
) -> RestResponse:
    """Execute one REST request (see the module docstring). Never counts an API
    call; API errors come back as error responses, not exceptions."""
    try:
        version, path, query_params = split_url(url)
        found = _find(org.rest_routes, path) or _find(org.state.rest_routes, path)
        if found is None:
            raise not_found()
        route, matched = found
        verb = method.upper()
        handler = route.handlers.get(verb)
        if handler is None and verb == "HEAD":
            handler = route.handlers.get("GET")
        if handler is None:
            raise method_not_allowed(verb, sorted(route.handlers))
        request = RestRequest(
            org=org,
            principal=principal,
            method=verb,
            version=version,
            path=path,
            query=query_params,
            body=body,
            headers=headers or {},
            match=matched,
        )
        response = await handler(request)
        if verb == "HEAD":
            response = RestResponse(response.status, None, response.headers)
        return response
    except ApiError as error:
        return RestResponse(error.status, error.body, dict(error.headers))


def path_param(request: RestRequest, name: str) -> str:
    """A URL-decoded named group of the matched route."""
    assert request.match is not None
    return unquote(request.match[name])
