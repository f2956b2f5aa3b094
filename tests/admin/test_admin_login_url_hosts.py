"""Issue 16 item 9: Save Credentials posts the Client Secret only to Salesforce
(or to the login URL the operator configured, or to loopback in dev mode), and a
login URL that answers something else is not echoed back on the page."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

import pytest
from admin_support import ADMIN_PATH, Stack, StartStack, text_of
from aiohttp import web
from aiohttp.test_utils import TestServer

from opencx_salesforce.emulator.app import Emulator
from opencx_salesforce.emulator.seed import DEMO_CLIENT_ID, DEMO_CLIENT_SECRET
from opencx_salesforce.salesforce.secrets import generate_key

PRODUCTION = {"dev_mode": False, "encryption_key": generate_key()}
MARKER = "NOT-SALESFORCE-" + "x" * 300


class Stranger:
    """A server on loopback that is not Salesforce: it records what it gets."""

    def __init__(self, answer: web.Response) -> None:
        self.answer = answer
        self.received: list[str] = []

    async def handle(self, request: web.Request) -> web.Response:
        self.received.append(await request.text())
        return self.answer


@pytest.fixture
async def stranger() -> AsyncIterator[tuple[Stranger, str]]:
    body = json.dumps({"error": f"<b>{MARKER}</b>", "error_description": MARKER})
    stranger = Stranger(web.Response(status=400, text=body, content_type="application/json"))
    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", stranger.handle)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    yield stranger, str(server.make_url("")).rstrip("/")
    await server.close()


async def save(stack: Stack, login_url: str) -> tuple[int, str]:
    browser = await stack.signed_in()
    page = await browser.get(ADMIN_PATH)
    page = await browser.submit(
        page,
        "/admin/credentials",
        {**stack.credentials_form(), "custom_login_url": login_url},
    )
    return page.status, page.text


async def test_in_production_mode_the_secret_is_never_posted_to_a_loopback_port(
    start_stack: StartStack, stranger: tuple[Stranger, str]
) -> None:
    server, url = stranger
    stack = await start_stack(plugin=PRODUCTION)
    status, page = await save(stack, url)
    assert status == 400
    text = text_of(page)
    assert "is not a Salesforce address" in text
    assert server.received == []  # the Client Secret never left
    assert await stack.runtime.tokens.credentials() is None


@pytest.mark.parametrize(
    "login_url",
    ["https://evil.example", "https://salesforce.com.evil.example", "http://localhost:9"],
)
async def test_in_production_mode_only_salesforce_login_hosts_are_accepted(
    start_stack: StartStack, login_url: str
) -> None:
    stack = await start_stack(plugin=PRODUCTION)
    status, page = await save(stack, login_url)
    assert status == 400
    assert "The Login URL is not valid" in text_of(page)
    assert await stack.runtime.tokens.credentials() is None


async def test_the_login_url_of_the_settings_file_is_trusted_in_production_mode(
    start_stack: StartStack, emulator: Emulator
) -> None:
    # The operator named the emulator as login_url: the page may send the secret there.
    stack = await start_stack(plugin={**PRODUCTION, "login_url": emulator.base_url})
    status, page = await save(stack, stack.login_url)
    assert status == 200, text_of(page)
    saved = await stack.runtime.tokens.credentials()
    assert saved is not None and saved.client_id == DEMO_CLIENT_ID
    assert saved.client_secret == DEMO_CLIENT_SECRET


async def test_a_login_url_that_is_not_salesforce_is_not_echoed(
    stack: Stack, stranger: tuple[Stranger, str]
) -> None:
    server, url = stranger  # dev mode: loopback allowed, so the call is made
    status, page = await save(stack, url)
    assert server.received  # it was asked
    assert status == 400
    assert MARKER[:40] not in page
    text = text_of(page)
    assert "did not answer like a Salesforce token endpoint" in text
