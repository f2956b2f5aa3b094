"""Fixtures for the simulated package: a webhook receiver on its own loopback port,
and a default org with the package deployed and pointing at it."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from emulator_support import RestCaller
from package_support import SECRET, WEBHOOK_PATH, Deployed, WebhookReceiver

from opencx_salesforce.emulator.package import deploy_package


@pytest.fixture
async def receiver(aiohttp_server: Callable[..., Awaitable[Any]]) -> WebhookReceiver:
    receiving = WebhookReceiver()
    server = await aiohttp_server(receiving.app())
    receiving.url = str(server.make_url(WEBHOOK_PATH))
    return receiving


@pytest.fixture
async def deployed(rest: RestCaller, receiver: WebhookReceiver) -> Deployed:
    """A default org with the package deployed (signed) and a REST caller for it."""
    runtime = deploy_package(rest.org, receiver.url, SECRET)
    return Deployed(rest, runtime, receiver)
