"""Shared pieces of the settings-page tests (a uniquely named module: several test
folders have a ``conftest``).

:class:`AdminBrowser` is an HTTP client that behaves like the admin's browser
without JavaScript: it keeps cookies, signs in through the host's login form,
reads forms out of the pages it gets, and posts them back. :func:`sign_in_on_salesforce`
walks the emulator's OAuth pages (log in, then Allow or Deny) the same way.
"""

from __future__ import annotations

import html.parser
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urljoin, urlsplit

import aiohttp
from yarl import URL

from opencx_salesforce.devhost import DevHost
from opencx_salesforce.emulator.app import Emulator
from opencx_salesforce.emulator.org import Org
from opencx_salesforce.emulator.seed import DEMO_CLIENT_ID, DEMO_CLIENT_SECRET
from opencx_salesforce.plugin import SalesforcePlugin
from opencx_salesforce.runtime import Runtime

ADMIN_TOKEN = "admin-token-for-the-settings-tests-42"
SALESFORCE_ADMIN = ("admin@acme.example", "admin-password")
PREFIX = "/integrations/salesforce"
ADMIN_PATH = f"{PREFIX}/admin"


# --- reading forms out of HTML --------------------------------------------------------


@dataclass
class Form:
    action: str
    method: str
    fields: dict[str, str] = field(default_factory=dict)
    radios: dict[str, list[tuple[str, bool]]] = field(default_factory=dict)
    buttons: list[tuple[str, str, str]] = field(default_factory=list)  # name, value, text
    attrs: dict[str, str] = field(default_factory=dict)

    def values(self, **overrides: str) -> dict[str, str]:
        """What a browser would submit: hidden and text fields, the checked radio,
        then ``overrides``."""
        data = dict(self.fields)
        for name, options in self.radios.items():
            checked = [value for value, on in options if on]
            if checked:
                data[name] = checked[0]
        data.update(overrides)
        return data


class _FormParser(html.parser.HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.forms: list[Form] = []
        self._button: list[str] | None = None
        self._button_attrs: dict[str, str] = {}

    def handle_starttag(self, tag: str, attrs_list: list[tuple[str, str | None]]) -> None:
        attrs = {k: v or "" for k, v in attrs_list}
        if tag == "form":
            self.forms.append(
                Form(attrs.get("action", ""), attrs.get("method", "get").lower(), attrs=attrs)
            )
            return
        if not self.forms:
            return
        form = self.forms[-1]
        if tag == "input" and "name" in attrs:
            kind = attrs.get("type", "text").lower()
            if kind == "radio":
                form.radios.setdefault(attrs["name"], []).append(
                    (attrs.get("value", ""), "checked" in attrs)
                )
            elif kind == "checkbox":
                if "checked" in attrs:
                    form.fields[attrs["name"]] = attrs.get("value", "on")
            elif kind == "submit":
                form.buttons.append((attrs["name"], attrs.get("value", ""), attrs.get("value", "")))
            else:
                form.fields[attrs["name"]] = attrs.get("value", "")
        elif tag == "button":
            self._button = []
            self._button_attrs = attrs

    def handle_data(self, data: str) -> None:
        if self._button is not None:
            self._button.append(data)

    def handle_endtag(self, tag: str) -> None:
        if tag == "button" and self._button is not None and self.forms:
            text = " ".join("".join(self._button).split())
            attrs = self._button_attrs
            self.forms[-1].buttons.append((attrs.get("name", ""), attrs.get("value", ""), text))
            self._button = None


def forms_in(page: str) -> list[Form]:
    parser = _FormParser()
    parser.feed(page)
    return parser.forms


def form_with_action(page: str, suffix: str) -> Form:
    for form in forms_in(page):
        if form.action.endswith(suffix):
            return form
    raise AssertionError(f"no form posting to …{suffix} in the page")


def csrf_token_in(page: str) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert match, "the page has no CSRF token"
    return match.group(1)


def text_of(page: str) -> str:
    """The page's visible text, whitespace collapsed (for asserting messages)."""
    without_scripts = re.sub(r"<(script|style)\b.*?</\1>", " ", page, flags=re.S | re.I)
    text = re.sub(r"<[^>]+>", " ", without_scripts)
    return " ".join(html.unescape(text).split())


# --- a browser without JavaScript ---------------------------------------------------


@dataclass
class Page:
    status: int
    url: str
    text: str
    headers: dict[str, str]


class AdminBrowser:
    """Cookies, redirects and forms, like a browser with JavaScript off. Every
    page it receives is kept in :attr:`pages` (the leak scans read them)."""

    def __init__(self, base_url: str) -> None:
        self.base_url = base_url
        # unsafe=True: keep cookies for 127.0.0.1 (aiohttp skips IP hosts by default).
        self.session = aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True))
        self.pages: list[Page] = []

    async def close(self) -> None:
        await self.session.close()

    def url(self, path: str) -> str:
        return path if "://" in path else self.base_url + path

    async def request(
        self,
        method: str,
        path: str,
        *,
        data: dict[str, str] | None = None,
        headers: dict[str, str] | None = None,
        follow: bool = True,
    ) -> Page:
        async with self.session.request(
            method,
            self.url(path),
            data=data,
            headers=headers,
            allow_redirects=follow,
        ) as response:
            page = Page(
                response.status, str(response.url), await response.text(), dict(response.headers)
            )
        self.pages.append(page)
        return page

    async def get(self, path: str, **kwargs: Any) -> Page:
        return await self.request("GET", path, **kwargs)

    async def post(self, path: str, data: dict[str, str], **kwargs: Any) -> Page:
        return await self.request("POST", path, data=data, **kwargs)

    async def sign_in(self, token: str = ADMIN_TOKEN) -> Page:
        """Open the settings page; the host sends us to its login form; sign in
        there; land back on the settings page."""
        first = await self.get(ADMIN_PATH)
        assert "/admin/login" in first.url, first.url
        login = forms_in(first.text)[0]
        page = await self.post(urljoin(first.url, login.action), login.values(token=token))
        assert page.status == 200 and urlsplit(page.url).path == ADMIN_PATH, page.url
        return page

    async def submit(
        self,
        page: Page,
        action_suffix: str,
        fields: dict[str, str] | None = None,
        *,
        follow: bool = True,
        **overrides: str,
    ) -> Page:
        """Submit the form of ``page`` that posts to ``…action_suffix``, with
        ``fields`` and ``overrides`` as what the admin filled in."""
        form = form_with_action(page.text, action_suffix)
        values = form.values(**{**(fields or {}), **overrides})
        return await self.post(urljoin(page.url, form.action), values, follow=follow)


# --- the emulator's sign-in pages -------------------------------------------------------


async def sign_in_on_salesforce(
    session: aiohttp.ClientSession,
    authorize_url: str,
    *,
    username: str = SALESFORCE_ADMIN[0],
    password: str = SALESFORCE_ADMIN[1],
    allow: bool = True,
) -> str:
    """Walk Salesforce's (the emulator's) pages from the authorize URL: log in,
    then Allow (or Deny). Returns the address Salesforce redirects the browser to
    (the plugin's callback with ``code`` and ``state``, or ``error``), not followed."""
    url = authorize_url
    data: dict[str, str] | None = None
    method = "GET"
    for _ in range(10):
        async with session.request(method, url, data=data, allow_redirects=False) as response:
            body = await response.text()
            if response.status in (301, 302, 303, 307):
                location = urljoin(url, response.headers["Location"])
                if not location.startswith(_origin(authorize_url)):
                    return location
                url, data, method = location, None, "GET"
                continue
            assert response.status == 200, (response.status, body[:500])
        forms = forms_in(body)
        wanted = "allow" if allow else "deny"
        approval = next((f for f in forms if _button(f, "allow")), None)
        login = next((f for f in forms if any(_is_password(n) for n in f.fields)), None)
        if approval is not None:
            name, value, _ = _button(approval, wanted) or ("", "", "")
            assert name, f"no {wanted} button on the approval page"
            url = urljoin(url, approval.action) if approval.action else url
            data, method = approval.values(**{name: value}), approval.method.upper()
        elif login is not None:
            values = login.values()
            for name in login.fields:
                if _is_password(name):
                    values[name] = password
                elif "user" in name.lower():
                    values[name] = username
            if login.buttons and login.buttons[0][0]:
                values[login.buttons[0][0]] = login.buttons[0][1]
            url = urljoin(url, login.action) if login.action else url
            data, method = values, login.method.upper()
        else:
            raise AssertionError(f"neither a login nor an approval page: {body[:500]}")
    raise AssertionError("the sign-in did not come back to the plugin")


def _button(form: Form, word: str) -> tuple[str, str, str] | None:
    return next((b for b in form.buttons if word in f"{b[1]} {b[2]}".lower()), None)


def _is_password(name: str) -> bool:
    return "password" in name.lower() or name.lower() in ("pw", "pwd")


def _origin(url: str) -> str:
    parts = URL(url)
    return f"{parts.scheme}://{parts.host}:{parts.port}"


# --- the running stack -----------------------------------------------------------------


@dataclass
class Stack:
    emulator: Emulator
    host: DevHost
    plugin: SalesforcePlugin
    base_url: str
    org: Org | None
    browsers: list[AdminBrowser] = field(default_factory=list)

    @property
    def runtime(self) -> Runtime:
        assert self.plugin.is_running
        return self.plugin.runtime

    @property
    def redirect_uri(self) -> str:
        return self.runtime.redirect_uri

    @property
    def login_url(self) -> str:
        return self.emulator.base_url

    @property
    def admin_url(self) -> str:
        return self.base_url + ADMIN_PATH

    def browser(self) -> AdminBrowser:
        browser = AdminBrowser(self.base_url)
        self.browsers.append(browser)
        return browser

    async def signed_in(self) -> AdminBrowser:
        browser = self.browser()
        await browser.sign_in()
        return browser

    def credentials_form(
        self, client_id: str = DEMO_CLIENT_ID, client_secret: str = DEMO_CLIENT_SECRET
    ) -> dict[str, str]:
        """The credentials fields as the admin fills them for the emulator."""
        return {
            "client_id": client_id,
            "client_secret": client_secret,
            "login_choice": "custom",
            "custom_login_url": self.login_url,
        }


StartStack = Callable[..., Awaitable[Stack]]


async def connect_through_page(stack: Stack) -> tuple[AdminBrowser, Page]:
    """Sign in, save the emulator's credentials, Connect (without JavaScript),
    allow on Salesforce's pages: the settings page, connected."""
    browser = await stack.signed_in()
    page = await browser.get(ADMIN_PATH)
    page = await browser.submit(page, "/admin/credentials", stack.credentials_form())
    answer = await browser.submit(page, "/admin/connect", follow=False)
    back = await sign_in_on_salesforce(browser.session, answer.headers["Location"])
    page = await browser.get(back)
    assert "Connected as" in text_of(page.text), text_of(page.text)
    return browser, page
