"""Fixtures of the Salesforce client tests: a memory store, a key, an aiohttp
session, the emulator with its default org (``live``), a scriptable fake org on a
real socket for the answers the emulator cannot be made to give, and a token
manager already connected to it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import replace
from typing import Any

import aiohttp
import pytest
from salesforce_support import (
    CLIENT_ID,
    CLIENT_SECRET,
    FakeSalesforce,
    LiveOrg,
    connect,
    make_manager,
    start_live_org,
)

from opencx_salesforce.emulator.seed import (
    OrgSeed,
    default_org,
)
from opencx_salesforce.salesforce import (
    ClientCredentials,
    OAuthClient,
    SalesforceClient,
    SecretBox,
    TokenManager,
    generate_key,
)
from opencx_salesforce.store.memory import MemoryStore


@pytest.fixture
def store() -> MemoryStore:
    return MemoryStore()


@pytest.fixture
def box() -> SecretBox:
    return SecretBox(generate_key())


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as s:
        yield s


@pytest.fixture
async def fake(aiohttp_server: Any) -> FakeSalesforce:
    org = FakeSalesforce()
    server = await aiohttp_server(org.app)
    org.url = str(server.make_url("")).rstrip("/")
    return org


@pytest.fixture
def oauth(session: aiohttp.ClientSession) -> OAuthClient:
    return OAuthClient(session, timeout=2.0)


@pytest.fixture
def credentials(fake: FakeSalesforce) -> ClientCredentials:
    return ClientCredentials(fake.url, CLIENT_ID, CLIENT_SECRET)


@pytest.fixture
def tokens(
    store: MemoryStore, box: SecretBox, oauth: OAuthClient, credentials: ClientCredentials
) -> TokenManager:
    return make_manager(store, box, oauth, credentials)


@pytest.fixture
async def connected(tokens: TokenManager, fake: FakeSalesforce) -> TokenManager:
    await connect(tokens, fake.url)
    return tokens


@pytest.fixture
def client(connected: TokenManager, session: aiohttp.ClientSession) -> SalesforceClient:
    return SalesforceClient(connected, api_version="62.0", session=session, timeout=2.0)


@pytest.fixture
async def live() -> AsyncIterator[LiveOrg]:
    """The emulator's default org (its Connected App knows our callback URL)."""
    running = await start_live_org(lambda cb: default_org(callback_urls=(cb,)))
    try:
        yield running
    finally:
        await running.emulator.close()


@pytest.fixture
async def live_rotating() -> AsyncIterator[LiveOrg]:
    """The default org with refresh token rotation on."""

    def seed(cb: str) -> OrgSeed:
        base = default_org(callback_urls=(cb,))
        return replace(base, apps=tuple(replace(a, rotate_refresh_tokens=True) for a in base.apps))

    running = await start_live_org(seed)
    try:
        yield running
    finally:
        await running.emulator.close()
