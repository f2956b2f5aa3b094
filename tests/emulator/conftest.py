"""Fixtures for the emulator's tests: a started emulator on a loopback port, a
factory of orgs on it, a way to get an access token the way a client does, and
a small REST caller that talks real HTTP."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import replace

import aiohttp
import pytest
from emulator_support import RestCaller

from opencx_salesforce.emulator.app import Emulator
from opencx_salesforce.emulator.org import Org
from opencx_salesforce.emulator.seed import OrgSeed, default_org


@pytest.fixture
async def emulator() -> AsyncIterator[Emulator]:
    """A started emulator on a free loopback port."""
    running = Emulator()
    await running.start()
    try:
        yield running
    finally:
        await running.close()


@pytest.fixture
def make_org(emulator: Emulator) -> Callable[..., Org]:
    """``make_org()`` adds the default org; ``make_org(seed)`` another shape."""

    def make(seed: OrgSeed | None = None) -> Org:
        seed = seed or default_org()
        taken = {app.client_id for org in emulator.state.orgs.values() for app in org.seed.apps}
        if any(app.client_id in taken for app in seed.apps):
            # Consumer keys are unique across Salesforce: a second org made from the
            # same seed gets its own.
            suffix = f".org{len(emulator.state.orgs) + 1}"
            apps = tuple(replace(app, client_id=app.client_id + suffix) for app in seed.apps)
            seed = replace(seed, apps=apps)
        return emulator.state.add_org(seed)

    return make


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


TokenGetter = Callable[[Org], Awaitable[str]]


@pytest.fixture
def get_token(emulator: Emulator, http: aiohttp.ClientSession) -> TokenGetter:
    """An access token for an org's Connected App, obtained over HTTP with the
    OAuth 2.0 client credentials flow (the app runs as its "Run As" user).
    [src: help.salesforce.com remoteaccess_oauth_client_credentials_flow.htm]"""

    async def token_for(org: Org) -> str:
        app = org.seed.apps[0]
        async with http.post(
            f"{emulator.base_url}/services/oauth2/token",
            data={
                "grant_type": "client_credentials",
                "client_id": app.client_id,
                "client_secret": app.client_secret,
            },
        ) as response:
            body = await response.json()
            assert response.status == 200, body
            return str(body["access_token"])

    return token_for


RestFactory = Callable[..., Awaitable[RestCaller]]


@pytest.fixture
def rest_for(
    emulator: Emulator,
    make_org: Callable[..., Org],
    get_token: TokenGetter,
    http: aiohttp.ClientSession,
) -> RestFactory:
    """``await rest_for(seed=None)``: a new org and a REST caller for it."""

    async def make(seed: OrgSeed | None = None) -> RestCaller:
        org = make_org(seed)
        return RestCaller(http, emulator.base_url, org, await get_token(org))

    return make


@pytest.fixture
async def rest(rest_for: RestFactory) -> RestCaller:
    """A REST caller for a fresh default org."""
    return await rest_for()
