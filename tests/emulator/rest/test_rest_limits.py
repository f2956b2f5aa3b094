"""Sessions, API-usage accounting, the limit header and the Limits resource."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import replace

import aiohttp
from emulator_support import RestCaller

from opencx_salesforce.emulator.app import Emulator
from opencx_salesforce.emulator.seed import default_org


async def test_versions_list_needs_no_session_and_is_not_counted(
    emulator: Emulator, http: aiohttp.ClientSession, rest: RestCaller
) -> None:
    """headers_api_usage.htm: "Versions URI, /, which do not count towards your
    org's limit"; SALESFORCE.md §8 response shape."""
    async with http.get(f"{emulator.base_url}/services/data/") as response:
        assert response.status == 200
        versions = await response.json()
        assert "Sforce-Limit-Info" not in response.headers
    assert {"label": "Winter '26", "url": "/services/data/v65.0", "version": "65.0"} in versions
    assert {"label": "Winter '25", "url": "/services/data/v62.0", "version": "62.0"} in versions
    # The release of the emulator's calendar (December 2026), which the current
    # docs' examples use: an integration pinned to it got 404 while 65.0 was last.
    assert versions[-1] == {"label": "Winter '27", "url": "/services/data/v68.0", "version": "68.0"}
    assert rest.org.api_calls.total == 0
    assert (await rest.get("/services/data/v68.0/sobjects")).status == 200
    assert (await rest.get("/services/data/v69.0/sobjects")).status == 404


async def test_every_rest_response_carries_the_limit_header(rest: RestCaller) -> None:
    """headers_api_usage.htm: "Sforce-Limit-Info: api-usage=18/5000" on every
    response; errors count as calls too."""
    first = await rest.get("sobjects/Case/describe")
    assert first.headers["Sforce-Limit-Info"] == "api-usage=1/15000"
    error = await rest.post("sobjects/Case", {"Nope__c": 1})
    assert error.status == 400
    assert error.headers["Sforce-Limit-Info"] == "api-usage=2/15000"
    await rest.get("limits")
    assert rest.org.api_calls.total == 3
    assert rest.org.api_calls.by_endpoint == {"sobjects": 2, "limits": 1}


async def test_limits_resource(rest: RestCaller) -> None:
    """resources_limits.htm: {"DailyApiRequests":{"Max":15000,"Remaining":...}, ...}
    keyed by PascalCase limit names."""
    await rest.get("sobjects")
    reply = await rest.get("limits")
    assert reply.status == 200
    assert reply.body["DailyApiRequests"] == {"Max": 15000, "Remaining": 14998}
    assert reply.body["DailyAsyncApexExecutions"]["Max"] == 250000
    assert reply.body["SingleEmail"]["Max"] == 15


async def test_limit_reached_answers_403(rest_for: Callable[..., Awaitable[RestCaller]]) -> None:
    """errorcodes.htm 403 "If the error code is REQUEST_LIMIT_EXCEEDED, you've
    exceeded API request limits"; SALESFORCE.md §9 body "TotalRequests Limit
    exceeded."."""
    rest = await rest_for(replace(default_org(), daily_api_limit=3))
    for _ in range(3):
        assert (await rest.get("limits")).status == 200
    refused = await rest.get("limits")
    assert refused.status == 403
    assert refused.body == [
        {"message": "TotalRequests Limit exceeded.", "errorCode": "REQUEST_LIMIT_EXCEEDED"}
    ]
    assert refused.headers["Sforce-Limit-Info"] == "api-usage=3/3"
    # The window is a rolling 24 hours: a day later the org may call again.
    rest.org.state.clock.advance(24 * 3600 + 1)
    token = await _fresh_token(rest)
    assert (await rest.get("limits", token=token)).status == 200


async def _fresh_token(rest: RestCaller) -> str:
    app = rest.org.seed.apps[0]
    async with rest.http.post(
        f"{rest.base_url}/services/oauth2/token",
        data={
            "grant_type": "client_credentials",
            "client_id": app.client_id,
            "client_secret": app.client_secret,
        },
    ) as response:
        return str((await response.json())["access_token"])


async def test_expired_token_answers_401(rest: RestCaller) -> None:
    """intro_understanding_refresh_token_oauth.htm: an expired access token gets
    "Session expired or invalid" (401, INVALID_SESSION_ID, WWW-Authenticate: Token);
    tokens last the session timeout (meta_error_handling_session_exp.htm)."""
    assert (await rest.get("limits")).status == 200
    rest.org.state.clock.advance(rest.org.seed.session_timeout + 1)
    reply = await rest.get("limits")
    assert reply.status == 401
    assert reply.body == [
        {"message": "Session expired or invalid", "errorCode": "INVALID_SESSION_ID"}
    ]
    assert reply.headers["WWW-Authenticate"] == "Token"


async def test_missing_or_bad_token_answers_401(rest: RestCaller) -> None:
    """SALESFORCE.md §1: an unknown token is INVALID_SESSION_ID; nothing is counted
    for a request with no session."""
    reply = await rest.get("limits", token="not-a-token")
    assert reply.status == 401
    assert reply.body[0]["errorCode"] == "INVALID_SESSION_ID"
    async with rest.http.get(rest.url("limits")) as response:
        assert response.status == 401
    assert rest.org.api_calls.total == 0


async def test_resources_by_version(rest: RestCaller) -> None:
    """resources_discoveryresource.htm: GET /services/data/vXX.X/ lists resources."""
    reply = await rest.get("")
    assert reply.status == 200
    assert reply.body["sobjects"] == "/services/data/v62.0/sobjects"
    assert reply.body["query"] == "/services/data/v62.0/query"
    # Retired (7.0–20.0 in Summer '22) answers 410 GONE. [src: intro_api_eol.html]
    assert (await rest.get("/services/data/v19.0/limits")).status == 410
