"""add_composite_routes on its own: the composite family served with the REST API's
authentication and accounting (one API call per HTTP request, Sforce-Limit-Info).

Docs followed: api_rest resources_composite_composite_post.htm ("counts as a single
call toward your API limits"), headers_api_usage.htm (Sforce-Limit-Info).
"""

from __future__ import annotations

from typing import Any

from aiohttp import web
from aiohttp.test_utils import TestClient
from composite_support import comment, live, sub

from opencx_salesforce.emulator.oauth.routes import add_oauth_routes
from opencx_salesforce.emulator.rest.composite_routes import add_composite_routes
from opencx_salesforce.emulator.seed import default_org
from opencx_salesforce.emulator.state import EmulatorState

AiohttpClient = Any  # pytest-aiohttp's factory fixture


async def test_composite_routes_alone_authenticate_and_count_once(
    aiohttp_client: AiohttpClient,
) -> None:
    state = EmulatorState()
    org = state.add_org(default_org())
    app = web.Application()
    add_oauth_routes(app, state)
    add_composite_routes(app, state)
    client: TestClient[Any, Any] = await aiohttp_client(app)
    state.base_url = str(client.make_url("")).rstrip("/")
    oauth_app = org.seed.apps[0]
    token_reply = await client.post(
        "/services/oauth2/token",
        data={
            "grant_type": "client_credentials",
            "client_id": oauth_app.client_id,
            "client_secret": oauth_app.client_secret,
        },
    )
    token = (await token_reply.json())["access_token"]
    body = {
        "compositeRequest": [
            sub("POST", "sobjects/Case", "refCase", {"Subject": "S"}),
            sub("POST", "sobjects/CaseComment", "refNote", comment("@{refCase.id}", "x")),
        ]
    }
    unauthenticated = await client.post("/services/data/v62.0/composite", json=body)
    assert unauthenticated.status == 401
    reply = await client.post(
        "/services/data/v62.0/composite",
        json=body,
        headers={"Authorization": f"Bearer {token}"},
    )
    assert reply.status == 200
    assert reply.headers["Sforce-Limit-Info"] == "api-usage=1/15000"
    assert org.api_calls.by_endpoint == {"composite": 1}
    assert len(live(org, "Case")) == 1 and len(live(org, "CaseComment")) == 1
    # Only the composite family is mounted here.
    other = await client.get(
        "/services/data/v62.0/limits", headers={"Authorization": f"Bearer {token}"}
    )
    assert other.status == 404
