"""Shared pieces of the Salesforce client tests (imported by basename, as the
other test folders do).

:func:`start_live_org` runs the Salesforce emulator and counts, at the server,
the token requests it receives. :class:`FakeSalesforce` is a scriptable HTTP server
on a real loopback socket for what the emulator cannot be asked to do at an exact
moment: drop a connection, hang, answer a status that is not its own, or change the
stored grant in the middle of a refresh. :func:`sign_in` walks the emulator's login
and approval pages as a browser would.
"""

from __future__ import annotations

import asyncio
import html
import inspect
import json
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, urljoin

import aiohttp
from aiohttp import web
from multidict import CIMultiDictProxy, MultiMapping

from opencx_salesforce.emulator.app import Emulator
from opencx_salesforce.emulator.org import Org
from opencx_salesforce.emulator.seed import DEMO_CLIENT_ID, DEMO_CLIENT_SECRET, OrgSeed
from opencx_salesforce.salesforce import (
    ClientCredentials,
    Grant,
    OAuthClient,
    SecretBox,
    TokenManager,
    TokenResponse,
)
from opencx_salesforce.store.base import Store

API_PATH = "/services/data/v62.0"
TOKEN_PATH = "/services/oauth2/token"
REVOKE_PATH = "/services/oauth2/revoke"
CLIENT_ID = "3MVG9client.id.for.tests"
# Distinctive values so a leak scan can find them anywhere.
CLIENT_SECRET = "SECRET-client-9f8e7d6c5b4a"
ACCESS_TOKEN = "00Dxx!ACCESS-token-first-1111"
NEW_ACCESS_TOKEN = "00Dxx!ACCESS-token-second-3333"
REFRESH_TOKEN = "5Aep-REFRESH-token-first-2222"
ROTATED_REFRESH_TOKEN = "5Aep-REFRESH-token-rotated-4444"
ORG_ID = "00D5g000000AbCdEAF"
USER_ID = "0055g000000XyZaAAA"
SESSION_EXPIRED = [{"message": "Session expired or invalid", "errorCode": "INVALID_SESSION_ID"}]


@dataclass
class Reply:
    status: int = 200
    json: Any = None
    body: str | None = None
    content_type: str = "application/json"
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0
    reset: bool = False  # drop the connection instead of answering


@dataclass
class Seen:
    method: str
    path: str
    query: MultiMapping[str]
    headers: CIMultiDictProxy[str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)

    def form(self) -> dict[str, str]:
        return dict(parse_qsl(self.body.decode()))

    @property
    def bearer(self) -> str | None:
        value = self.headers.get("Authorization", "")
        return value.removeprefix("Bearer ") if value.startswith("Bearer ") else None


Handler = Callable[[Seen], Reply | Awaitable[Reply]]


class FakeSalesforce:
    """Answers each (method, path) from a script: replies are used in order and
    the last one repeats. ``path`` is the raw path without the query string."""

    def __init__(self) -> None:
        self.url = ""
        self.seen: list[Seen] = []
        self._script: dict[tuple[str, str], list[Reply | Handler]] = {}
        self.app = web.Application()
        self.app.router.add_route("*", "/{tail:.*}", self._handle)

    def on(self, method: str, path: str, *replies: Reply | Handler) -> None:
        self._script.setdefault((method, path), []).extend(replies)

    def calls(self, method: str, path: str) -> list[Seen]:
        return [s for s in self.seen if s.method == method and s.path == path]

    def token_calls(self) -> list[Seen]:
        return self.calls("POST", TOKEN_PATH)

    def token_answer(self, access_token: str = NEW_ACCESS_TOKEN, **extra: str) -> dict[str, str]:
        return {
            "access_token": access_token,
            "instance_url": self.url,
            "id": "",
            "token_type": "Bearer",
            "issued_at": "1764030000000",
            **extra,
        }

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        seen = Seen(
            method=request.method,
            path=request.rel_url.raw_path,
            query=request.query,
            headers=request.headers,
            body=await request.read(),
        )
        self.seen.append(seen)
        queue = self._script.get((seen.method, seen.path))
        if not queue:
            return web.json_response(
                {"fake": f"nothing scripted for {seen.method} {seen.path}"}, status=418
            )
        step = queue.pop(0) if len(queue) > 1 else queue[0]
        if isinstance(step, Reply):
            reply = step
        else:
            result = step(seen)
            reply = await result if inspect.isawaitable(result) else result
        if reply.delay:
            await asyncio.sleep(reply.delay)
        if reply.reset:
            assert request.transport is not None
            request.transport.abort()
            raise asyncio.CancelledError  # nothing more to say on a dead connection
        if reply.body is not None:
            text = reply.body
        elif reply.json is not None:
            text = json.dumps(reply.json)
        else:
            text = ""
        return web.Response(
            status=reply.status,
            text=text if reply.status != 304 else None,
            content_type=reply.content_type if reply.status != 304 else None,
            headers=reply.headers,
        )


async def connect(
    tokens: TokenManager,
    instance_url: str,
    *,
    access_token: str = ACCESS_TOKEN,
    refresh_token: str | None = REFRESH_TOKEN,
    client_id: str = CLIENT_ID,
) -> None:
    """Store a grant as if an admin had just connected (no identity call: the
    token answer carries no id URL)."""
    await tokens.store_tokens(
        TokenResponse(
            access_token=access_token,
            instance_url=instance_url,
            id_url="",
            refresh_token=refresh_token,
        ),
        grant=Grant.AUTHORIZATION_CODE,
        client_id=client_id,
    )


def make_manager(
    store: Store, box: SecretBox, oauth: OAuthClient, credentials: ClientCredentials
) -> TokenManager:
    return TokenManager(store, box, oauth, credentials=credentials, lock_ttl=5.0)


# --- signing in like a browser (for the emulator's login and approval pages) ----------

_FORM = re.compile(r'<form[^>]*id="(?P<id>[^"]+)"[^>]*action="(?P<action>[^"]*)"', re.I)
_HIDDEN = re.compile(r'<input type="hidden" name="(?P<name>[^"]+)" value="(?P<value>[^"]*)"', re.I)


def _form(page: str, form_id: str) -> tuple[str, dict[str, str]]:
    """The action and hidden fields of one form of a page."""
    for match in _FORM.finditer(page):
        if match.group("id") == form_id:
            rest = page[match.end() : page.find("</form>", match.end())]
            hidden = {
                m.group("name"): html.unescape(m.group("value")) for m in _HIDDEN.finditer(rest)
            }
            return html.unescape(match.group("action")), hidden
    raise AssertionError(f"no form {form_id!r} on the page:\n{page[:2000]}")


async def sign_in(authorize_url: str, callback: str, username: str, password: str) -> str:
    """Follow the authorize URL through the login page and the Allow page, as a
    browser would, until Salesforce redirects to ``callback``; that URL."""
    jar = aiohttp.CookieJar(unsafe=True)  # cookies on 127.0.0.1
    async with aiohttp.ClientSession(cookie_jar=jar) as browser:
        method, url, data = "GET", authorize_url, None
        for _ in range(12):
            async with browser.request(method, url, data=data, allow_redirects=False) as answer:
                page = await answer.text()
                location = answer.headers.get("Location")
            if location is not None:
                target = urljoin(url, location)
                if target.startswith(callback):
                    return target
                method, url, data = "GET", target, None
                continue
            if 'id="login_form"' in page:
                action, fields = _form(page, "login_form")
                data = {**fields, "username": username, "pw": password}
            elif 'id="approval_form"' in page:
                action, fields = _form(page, "approval_form")
                data = {**fields, "save": "Allow"}
            else:
                raise AssertionError(f"unexpected page at {url}:\n{page[:2000]}")
            method, url = "POST", urljoin(url, action)
    raise AssertionError("the sign-in never reached the callback")


# --- the emulator, with token requests counted at the server --------------------------


@dataclass
class LiveOrg:
    """A running emulator with the default org, and a count of the token
    requests it received (counted at the server)."""

    emulator: Emulator
    url: str
    org: Org
    callback: str
    token_requests: list[dict[str, str]] = field(default_factory=list)

    def credentials(self, login_url: str | None = None) -> ClientCredentials:
        return ClientCredentials(login_url or self.url, DEMO_CLIENT_ID, DEMO_CLIENT_SECRET)


async def start_live_org(make_seed: Callable[[str], OrgSeed]) -> LiveOrg:
    """Start an emulator and add the org ``make_seed(callback_url)`` describes."""
    emulator = Emulator()
    seen: list[dict[str, str]] = []

    @web.middleware
    async def count_token_requests(
        request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
    ) -> web.StreamResponse:
        if request.method == "POST" and request.path.endswith("/services/oauth2/token"):
            seen.append({k: str(v) for k, v in (await request.post()).items()})
        return await handler(request)

    emulator.app.middlewares.append(count_token_requests)
    url = await emulator.start()
    callback = f"{url}/integrations/salesforce/oauth/callback"
    org = emulator.state.add_org(make_seed(callback))
    return LiveOrg(emulator, url, org, callback, seen)
