"""The REST API over HTTP: ``/services/data/...``.

Every request except the versions list is authenticated with its bearer token,
checked against and counted toward the org's daily API limit, executed by
:func:`dispatch`, and answered with the ``Sforce-Limit-Info`` header.
[src: api_rest headers_api_usage.htm; errorcodes.htm; SALESFORCE.md §1–2]
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from aiohttp import web

from opencx_salesforce.emulator.oauth.errors import InvalidSession
from opencx_salesforce.emulator.oauth.server import Principal
from opencx_salesforce.emulator.rest.dispatch import RestResponse, dispatch, split_url
from opencx_salesforce.emulator.rest.errors import ApiError, error_item
from opencx_salesforce.emulator.rest.unsupported import add_unsupported_routes
from opencx_salesforce.emulator.rest.versions import versions_list

if TYPE_CHECKING:
    from opencx_salesforce.emulator.org import Org
    from opencx_salesforce.emulator.state import EmulatorState

JSON_CONTENT_TYPE = "application/json"


def add_rest_routes(app: web.Application, state: EmulatorState) -> None:
    api = RestApi(state)
    # "//services/data/..." too: the Salesforce CLI keeps instance URLs ending in
    # "/" and joins them to paths starting with "/". [src: github.com/forcedotcom/cli
    # issue 361; SALESFORCE.md §2 — that orgs answer it is UNCONFIRMED in the docs]
    for prefix in ("/services/data", "//services/data"):
        app.router.add_get(prefix, api.versions)
        app.router.add_get(f"{prefix}/", api.versions)
        app.router.add_route("*", f"{prefix}/{{tail:.+}}", api.handle)
    add_unsupported_routes(app)


def json_response(
    status: int,
    body: Any,
    headers: dict[str, str] | None = None,
) -> web.Response:
    if body is None or status in (204, 304):
        return web.Response(status=status, headers=headers)
    return web.Response(
        status=status,
        text=json.dumps(body, ensure_ascii=False),
        content_type=JSON_CONTENT_TYPE,
        charset="UTF-8",
        headers=headers,
    )


def limit_info(org: Org) -> dict[str, str]:
    """``Sforce-Limit-Info: api-usage=18/5000`` (used/limit over the rolling 24 h).
    [src: api_rest headers_api_usage.htm]"""
    return {"Sforce-Limit-Info": f"api-usage={org.api_calls.total}/{org.api_calls.limit}"}


def endpoint_of(path: str) -> str:
    """How a request is counted per endpoint: the first segment after the version
    (``sobjects``, ``query``, ``composite``, ``tooling``, ...); the version's own
    resource list is ``""``."""
    return path.split("/", 1)[0]


def parse_body(raw: bytes) -> Any:
    """The JSON request body, None when empty; malformed JSON is a 400
    JSON_PARSER_ERROR (status per api_rest errorcodes.htm: "The request couldn't be
    understood, usually because the JSON or XML body contains an error")."""
    if not raw.strip():
        return None
    try:
        return json.loads(raw, parse_constant=_non_standard)
    except UnicodeDecodeError:
        raise ApiError.one(400, "JSON_PARSER_ERROR", "Invalid UTF-8 in request body") from None
    except json.JSONDecodeError as error:
        # Jackson's wording, which Salesforce passes through.
        bad = error.doc[error.pos : error.pos + 1] if error.pos < len(error.doc) else ""
        token = f"'{bad}' (code {ord(bad)})" if bad else "end-of-input"
        raise ApiError.one(
            400,
            "JSON_PARSER_ERROR",
            f"Unexpected character ({token}): expected a valid value (number, String, "
            "array, object, 'true', 'false' or 'null') at "
            f"[line:{error.lineno}, column:{error.colno}]",
        ) from None


def _non_standard(token: str) -> Any:
    """NaN, Infinity and -Infinity, which Python's json reads and JSON has not
    ("Numeric values that cannot be represented in the grammar below (such as
    Infinity and NaN) are not permitted" [src: RFC 8259 §6]): a parse error, in
    the words of Jackson, the parser Salesforce's messages come from."""
    raise ApiError.one(
        400,
        "JSON_PARSER_ERROR",
        f"Non-standard token '{token}': enable JsonParser.Feature.ALLOW_NON_NUMERIC_NUMBERS "
        "to allow",
    )


class RestApi:
    def __init__(self, state: EmulatorState) -> None:
        self.state = state

    async def versions(self, request: web.Request) -> web.Response:
        """No session, not counted. [src: api_rest headers_api_usage.htm]"""
        return json_response(200, versions_list())

    def _authenticate(self, request: web.Request) -> tuple[Principal, Org]:
        try:
            principal = self.state.auth.validate_bearer(request.headers.get("Authorization"))
        except InvalidSession as error:
            raise ApiError(error.status, error.body, dict(error.headers)) from None
        org = self.state.orgs.get(principal.org_id)
        if org is None:
            raise ApiError.one(401, "INVALID_SESSION_ID", "Session expired or invalid")
        return principal, org

    async def handle(self, request: web.Request) -> web.Response:
        try:
            _version, path, _query = split_url(request.raw_path)
            principal, org = self._authenticate(request)
        except ApiError as error:
            headers = dict(error.headers)
            if error.status == 401:
                # The recorded 401 carries "WWW-Authenticate: Token". [src: SALESFORCE.md §1]
                headers.setdefault("WWW-Authenticate", "Token")
            return json_response(error.status, error.body, headers)
        if org.api_calls.exhausted:
            # [src: api_rest errorcodes.htm 403 REQUEST_LIMIT_EXCEEDED; SALESFORCE.md §9]
            body = [error_item("REQUEST_LIMIT_EXCEEDED", "TotalRequests Limit exceeded.")]
            return json_response(403, body, limit_info(org))
        org.api_calls.record(endpoint_of(path))
        try:
            body = parse_body(await request.read())
        except ApiError as error:
            response = RestResponse(error.status, error.body, dict(error.headers))
        else:
            response = await dispatch(
                org,
                principal,
                request.method,
                request.raw_path,
                body,
                headers=dict(request.headers),
            )
        headers = {**response.headers, **limit_info(org)}
        return json_response(response.status, response.body, headers)
