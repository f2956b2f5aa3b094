"""Fixtures for the live transport: an org on the emulator (the package's pytest
plugin), the plugin's SCRT client pointed at it, and the rep's hands."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable

import aiohttp
import pytest
from live_support import Rep

from opencx_salesforce.emulator.app import Emulator
from opencx_salesforce.emulator.messaging.deployment import DEFAULT_DEPLOYMENT
from opencx_salesforce.emulator.org import Org
from opencx_salesforce.live.client import ScrtClient


@pytest.fixture
def org(salesforce_org: Callable[..., Org]) -> Org:
    return salesforce_org()


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


@pytest.fixture
def client(salesforce_emulator: Emulator, org: Org, http: aiohttp.ClientSession) -> ScrtClient:
    # The emulator's host stands for the deployment's SCRT URL.
    return ScrtClient(http, salesforce_emulator.base_url, org.id[:15], DEFAULT_DEPLOYMENT)


@pytest.fixture
def rep(salesforce_emulator: Emulator, org: Org, http: aiohttp.ClientSession) -> Rep:
    return Rep(http, salesforce_emulator.base_url, org)
