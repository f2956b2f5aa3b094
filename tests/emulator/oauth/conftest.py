"""An application with only the OAuth routes, on a real loopback socket, over a
fresh emulator state; browsers and a token client that talk to it over HTTP."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from oauth_emulator_support import (
    ADMIN,
    CALLBACK,
    Browser,
    TokenClient,
    org_seed,
    query_of,
)

from opencx_salesforce.emulator.oauth.routes import add_oauth_routes
from opencx_salesforce.emulator.oauth.server import AuthServer
from opencx_salesforce.emulator.seed import OrgSeed, UserSeed
from opencx_salesforce.emulator.state import EmulatorState


@dataclass
class World:
    state: EmulatorState
    base_url: str
    http: aiohttp.ClientSession
    browsers: list[Browser] = field(default_factory=list)

    @property
    def auth(self) -> AuthServer:
        return self.state.auth

    @property
    def tokens(self) -> TokenClient:
        return TokenClient(self.http, self.base_url)

    def browser(self) -> Browser:
        browser = Browser(self.base_url)
        self.browsers.append(browser)
        return browser

    def add_org(self, seed: OrgSeed | None = None) -> str:
        """Adds an org; returns its Id."""
        return self.state.add_org(seed or org_seed()).identity.org_id

    def user_id(self, org_id: str, username: str) -> str:
        return self.state.orgs[org_id].identity.user_ids[username]

    async def code_for(
        self, browser: Browser, user: UserSeed = ADMIN, prefix: str = "", **params: str
    ) -> str:
        """Authorize, log in, allow: the code the callback receives."""
        page = await browser.authorize(prefix, **params)
        if "Login" in page.read().ids:
            page = await browser.log_in(page, user.username, user.password)
        if "oaapprove" in page.read().ids:
            page = await browser.submit(page, "approval_form", "oaapprove")
        assert page.status == 302 and page.location.startswith(CALLBACK), page.body
        return query_of(page.location)["code"]

    async def connect(
        self, browser: Browser | None = None, user: UserSeed = ADMIN, **params: str
    ) -> dict[str, Any]:
        """The whole web server flow: the token response."""
        code = await self.code_for(browser or self.browser(), user, **params)
        status, _, body = await self.tokens.exchange(code)
        assert status == 200, body
        assert isinstance(body, dict)
        return body


@pytest.fixture
async def world(aiohttp_server: Any) -> AsyncIterator[World]:
    state = EmulatorState()
    app = web.Application()
    add_oauth_routes(app, state)
    server = await aiohttp_server(app)
    state.base_url = str(server.make_url("/")).rstrip("/")
    async with aiohttp.ClientSession() as http:
        running = World(state, state.base_url, http)
        try:
            yield running
        finally:
            for browser in running.browsers:
                await browser.close()
