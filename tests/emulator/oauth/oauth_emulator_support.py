"""Helpers for the OAuth emulator's tests: seeds, a small browser that reads the
login host's pages and submits their forms the way a person would, and a token
client that talks to the token endpoint over HTTP."""

from __future__ import annotations

import base64
import hashlib
import secrets
from dataclasses import dataclass, field
from html.parser import HTMLParser
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import aiohttp

from opencx_salesforce.emulator.seed import ConnectedAppSeed, OrgSeed, UserSeed

CALLBACK = "https://app.example.com/oauth/callback"
OTHER_CALLBACK = "https://other.example.com/cb"
CLIENT_ID = "3MVG9test.client.one"
CLIENT_SECRET = "secret-one-0123456789"

ADMIN = UserSeed("admin@acme.example", "admin-password", "Ada", "Admin", "admin@acme.example")
REP = UserSeed(
    "rep@acme.example", "rep-password", "Riley", "Rep", "rep@acme.example", profile="Standard User"
)
GONE = UserSeed(
    "gone@acme.example", "gone-password", "Gale", "Gone", "gone@acme.example", is_active=False
)


def app_seed(**changes: Any) -> ConnectedAppSeed:
    values: dict[str, Any] = {
        "name": "OpenCX",
        "client_id": CLIENT_ID,
        "client_secret": CLIENT_SECRET,
        "callback_urls": (CALLBACK,),
        "client_credentials_user": ADMIN.username,
    }
    values.update(changes)
    return ConnectedAppSeed(**values)


def org_seed(*apps: ConnectedAppSeed, **changes: Any) -> OrgSeed:
    values: dict[str, Any] = {"users": (ADMIN, REP, GONE), "apps": apps or (app_seed(),)}
    values.update(changes)
    return OrgSeed(**values)


def pkce_pair() -> tuple[str, str]:
    """A code verifier and its S256 challenge, computed here independently of the
    emulator (RFC 7636 §4.1–4.2)."""
    verifier = secrets.token_urlsafe(48)
    digest = hashlib.sha256(verifier.encode()).digest()
    return verifier, base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def query_of(url: str) -> dict[str, str]:
    return {key: values[0] for key, values in parse_qs(urlsplit(url).query).items()}


# --- reading pages ----------------------------------------------------------------------


@dataclass
class Form:
    id: str
    action: str
    method: str
    fields: dict[str, str] = field(default_factory=dict)  # hidden and text inputs
    buttons: dict[str, tuple[str, str]] = field(default_factory=dict)  # id -> (name, value)
    input_ids: set[str] = field(default_factory=set)


class PageReader(HTMLParser):
    """The forms, labels and element ids of a page."""

    def __init__(self) -> None:
        super().__init__()
        self.forms: dict[str, Form] = {}
        self.labels: dict[str, str] = {}  # for= -> label text
        self.ids: set[str] = set()
        self._form: Form | None = None
        self._label_for: str | None = None
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attr = {k: v or "" for k, v in attrs}
        if "id" in attr:
            self.ids.add(attr["id"])
        if tag == "form":
            self._form = Form(attr.get("id", ""), attr.get("action", ""), attr.get("method", "get"))
            self.forms[self._form.id] = self._form
        elif tag == "label":
            self._label_for = attr.get("for")
        elif tag in ("input", "button") and self._form is not None:
            kind = attr.get("type", "text" if tag == "input" else "submit")
            name = attr.get("name", "")
            if attr.get("id"):
                self._form.input_ids.add(attr["id"])
            if kind == "submit":
                self._form.buttons[attr.get("id", name)] = (name, attr.get("value", ""))
            elif name:
                self._form.fields[name] = attr.get("value", "")

    def handle_endtag(self, tag: str) -> None:
        if tag == "form":
            self._form = None
        elif tag == "label":
            self._label_for = None

    def handle_data(self, data: str) -> None:
        self.text.append(data)
        if self._label_for:
            self.labels[self._label_for] = self.labels.get(self._label_for, "") + data.strip()


@dataclass
class Page:
    status: int
    url: str
    headers: dict[str, str]
    body: str

    @property
    def location(self) -> str:
        return self.headers.get("Location", "")

    def read(self) -> PageReader:
        reader = PageReader()
        reader.feed(self.body)
        return reader

    @property
    def text(self) -> str:
        return " ".join(" ".join(self.read().text).split())


class Browser:
    """One browser (one cookie jar) on the emulator. It follows redirects while
    they stay on the emulator and stops at the first one that leaves it (the
    client's callback), as the client's page would receive it."""

    def __init__(self, base_url: str) -> None:
        self.base_url = base_url
        self.session = aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True))
        self.visited: list[str] = []

    async def close(self) -> None:
        await self.session.close()

    def _absolute(self, url: str) -> str:
        return url if url.startswith("http") else self.base_url + url

    async def request(self, method: str, url: str, data: dict[str, str] | None = None) -> Page:
        target = self._absolute(url)
        self.visited.append(target)
        async with self.session.request(
            method, target, data=data, allow_redirects=False
        ) as response:
            return Page(response.status, target, dict(response.headers), await response.text())

    async def go(self, url: str, method: str = "GET", data: dict[str, str] | None = None) -> Page:
        page = await self.request(method, url, data)
        while page.status in (301, 302, 303) and page.location.startswith(self.base_url):
            page = await self.request("GET", page.location)
        return page

    async def authorize(self, prefix: str = "", **params: str) -> Page:
        query = {"response_type": "code", "client_id": CLIENT_ID, "redirect_uri": CALLBACK}
        query.update(params)
        return await self.go(f"{prefix}/services/oauth2/authorize?{urlencode(query)}")

    async def submit(self, page: Page, form_id: str, button_id: str, **values: str) -> Page:
        form = page.read().forms[form_id]
        data = dict(form.fields)
        data.update(values)
        name, value = form.buttons[button_id]
        if name:
            data[name] = value
        return await self.go(form.action, method=form.method.upper(), data=data)

    async def log_in(self, page: Page, username: str, password: str) -> Page:
        return await self.submit(page, "login_form", "Login", username=username, pw=password)


@dataclass
class TokenClient:
    """Posts to a login host's token endpoint the way a server-side client does."""

    http: aiohttp.ClientSession
    base_url: str

    async def post(
        self,
        form: dict[str, str],
        prefix: str = "",
        path: str = "/services/oauth2/token",
        headers: dict[str, str] | None = None,
    ) -> tuple[int, dict[str, str], Any]:
        async with self.http.post(
            f"{self.base_url}{prefix}{path}", data=form, headers=headers
        ) as response:
            text = await response.text()
            try:
                body: Any = await response.json(content_type=None) if text else None
            except ValueError:
                body = text
            return response.status, dict(response.headers), body

    async def exchange(
        self, code: str, prefix: str = "", **extra: str
    ) -> tuple[int, dict[str, str], Any]:
        form = {
            "grant_type": "authorization_code",
            "code": code,
            "client_id": CLIENT_ID,
            "client_secret": CLIENT_SECRET,
            "redirect_uri": CALLBACK,
        }
        form.update(extra)
        return await self.post(form, prefix)

    async def refresh(self, refresh_token: str, **extra: str) -> tuple[int, dict[str, str], Any]:
        form = {
            "grant_type": "refresh_token",
            "refresh_token": refresh_token,
            "client_id": CLIENT_ID,
            "client_secret": CLIENT_SECRET,
        }
        form.update(extra)
        return await self.post(form)

    async def get(
        self, path: str, token: str | None = None, prefix: str = ""
    ) -> tuple[int, dict[str, str], str]:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        async with self.http.get(f"{self.base_url}{prefix}{path}", headers=headers) as response:
            return response.status, dict(response.headers), await response.text()
