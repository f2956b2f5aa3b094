"""Faults a live org cannot be asked to produce on cue — a timeout, a reset
connection, a proxy's 502, a maintenance page — mocked at the transport with
aioresponses, and what the client makes of each."""

from __future__ import annotations

from dataclasses import dataclass

import aiohttp
import pytest
from aioresponses import aioresponses

from opencx_salesforce.outbox.policy import retry_hint
from opencx_salesforce.salesforce.client import SalesforceClient
from opencx_salesforce.salesforce.errors import (
    RequestLimitExceeded,
    ServerError,
    TransportError,
    Unavailable,
)

INSTANCE = "https://acme.my.salesforce.test"
LIMITS = f"{INSTANCE}/services/data/v62.0/limits"


@dataclass(frozen=True)
class Token:
    access_token: str = "00Dxx!fake-access-token"
    instance_url: str = INSTANCE


class Tokens:
    async def access_token(self) -> Token:
        return Token()

    async def refresh(self, stale_token: str | None = None) -> Token:
        return Token()


@pytest.fixture
async def client() -> SalesforceClient:
    session = aiohttp.ClientSession()
    yield SalesforceClient(Tokens(), session=session, timeout=2.0)  # type: ignore[misc]
    await session.close()


async def test_a_timeout_is_a_retryable_transport_error(client: SalesforceClient) -> None:
    with aioresponses() as mock:
        mock.get(LIMITS, exception=TimeoutError())
        with pytest.raises(TransportError) as caught:
            await client.limits()
    assert retry_hint(caught.value)[0] is True
    assert "limits" in str(caught.value)


async def test_a_reset_connection_is_a_retryable_transport_error(client: SalesforceClient) -> None:
    with aioresponses() as mock:
        mock.get(LIMITS, exception=aiohttp.ServerDisconnectedError())
        with pytest.raises(TransportError):
            await client.limits()


async def test_a_proxy_502_with_an_html_body_names_the_status(client: SalesforceClient) -> None:
    with aioresponses() as mock:
        mock.get(LIMITS, status=502, body="<html><body><h1>Bad Gateway</h1></body></html>")
        with pytest.raises(ServerError) as caught:
            await client.limits()
    assert "502" in str(caught.value) and "Bad Gateway" in str(caught.value)
    assert retry_hint(caught.value)[0] is True


async def test_a_maintenance_page_with_retry_after_is_honoured(client: SalesforceClient) -> None:
    with aioresponses() as mock:
        mock.get(
            LIMITS,
            status=503,
            headers={"Retry-After": "120", "Content-Type": "text/html"},
            body="<html><title>Down for Maintenance</title></html>",
        )
        with pytest.raises(Unavailable) as caught:
            await client.limits()
    assert retry_hint(caught.value) == (True, 120.0)


async def test_the_daily_quota_is_not_an_auth_problem(client: SalesforceClient) -> None:
    with aioresponses() as mock:
        mock.get(
            LIMITS,
            status=403,
            payload=[
                {"message": "TotalRequests Limit exceeded.", "errorCode": "REQUEST_LIMIT_EXCEEDED"}
            ],
        )
        with pytest.raises(RequestLimitExceeded) as caught:
            await client.limits()
    retryable, wait = retry_hint(caught.value)
    assert retryable and wait is not None and wait >= 60
