"""The plugin trusts only the instance and identity URLs it may send its token to
(issue #16, item 9): a token endpoint that answers with another port, plain http
elsewhere, ``javascript:`` or ``file:`` gets a clear refusal from the token call
itself, before the token is used anywhere. A real token endpoint on loopback
answers, as a spoofed login host would."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from opencx_salesforce.salesforce import OAuthClient
from opencx_salesforce.salesforce.errors import UntrustedURL
from opencx_salesforce.salesforce.hosts import check_org_url, on_salesforce_domain


class SpoofedLogin:
    """A token endpoint that answers with whatever instance_url and id it is
    told to."""

    def __init__(self) -> None:
        self.instance_url = ""
        self.id_url = ""
        self.app = web.Application()
        self.app.router.add_post("/services/oauth2/token", self.token)

    async def token(self, request: web.Request) -> web.Response:
        return web.json_response(
            {
                "access_token": "00Dxx!token",
                "instance_url": self.instance_url,
                "id": self.id_url,
                "token_type": "Bearer",
            }
        )


@pytest.fixture
async def login() -> AsyncIterator[tuple[SpoofedLogin, str]]:
    spoofed = SpoofedLogin()
    server = TestServer(spoofed.app, host="127.0.0.1")
    await server.start_server()
    try:
        yield spoofed, str(server.make_url("")).rstrip("/")
    finally:
        await server.close()


async def test_own_origin_is_trusted(login: tuple[SpoofedLogin, str]) -> None:
    spoofed, base = login
    spoofed.instance_url, spoofed.id_url = base, f"{base}/id/00D/005"
    client = OAuthClient()
    try:
        answer = await client.client_credentials(base, "id", "secret")
    finally:
        await client.close()
    assert answer.instance_url == base


@pytest.mark.parametrize(
    "bad",
    [
        "http://127.0.0.1:1",  # another port on the same host, plain http
        "http://attacker.example",
        "https://attacker.example",
        "https://salesforce.com.attacker.example",
        "javascript:alert(1)",
        "file:///etc/passwd",
        "https://user:pw@acme.my.salesforce.com",
    ],
)
@pytest.mark.parametrize("field", ["instance_url", "id"])
async def test_an_untrusted_url_from_the_token_endpoint_is_refused(
    login: tuple[SpoofedLogin, str], bad: str, field: str
) -> None:
    spoofed, base = login
    spoofed.instance_url, spoofed.id_url = base, f"{base}/id/00D/005"
    setattr(spoofed, "instance_url" if field == "instance_url" else "id_url", bad)
    client = OAuthClient()
    try:
        with pytest.raises(UntrustedURL) as refused:
            await client.client_credentials(base, "id", "secret")
    finally:
        await client.close()
    assert f"token endpoint's {field}" in str(refused.value)
    assert not refused.value.is_retryable
    assert "00Dxx!token" not in str(refused.value)


@pytest.mark.parametrize(
    "url",
    [
        "https://acme.my.salesforce.com",
        "https://acme--uat.sandbox.my.salesforce.com",
        "https://acme-dev-ed.develop.my.salesforce.com",
        "https://na123.salesforce.com",
        "https://login.salesforce.com/id/00D000000000001AAA/005000000000001AAA",
    ],
)
def test_salesforce_https_urls_are_trusted(url: str) -> None:
    assert check_org_url(url, login_url="https://login.salesforce.com", what="id") == url


def test_the_domain_rule_needs_a_dot_boundary() -> None:
    assert on_salesforce_domain("acme.my.salesforce.com")
    assert not on_salesforce_domain("evilsalesforce.com")
    assert not on_salesforce_domain("salesforce.com.evil.example")
