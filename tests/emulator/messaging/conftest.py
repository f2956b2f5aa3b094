"""Fixtures for the Messaging side: an org on the running emulator, an end user's
client and the rep's hands, all over real HTTP."""

from __future__ import annotations

from collections.abc import Callable

import aiohttp
import pytest
from miaw_support import Agent, EndUser

from opencx_salesforce.emulator.app import Emulator
from opencx_salesforce.emulator.messaging.routes import messaging_of
from opencx_salesforce.emulator.messaging.side import MessagingSide
from opencx_salesforce.emulator.org import Org


@pytest.fixture
def org(make_org: Callable[..., Org]) -> Org:
    return make_org()


@pytest.fixture
def side(emulator: Emulator) -> MessagingSide:
    return messaging_of(emulator.app)


@pytest.fixture
def end_user(emulator: Emulator, org: Org, http: aiohttp.ClientSession) -> EndUser:
    return EndUser(http, emulator.base_url, org)


@pytest.fixture
def agent(emulator: Emulator, org: Org, http: aiohttp.ClientSession) -> Agent:
    return Agent(http, emulator.base_url, org)
