"""The reference host under hostile input and after sign-out (issue #16, items 7
and 11): every bad request is a 4xx that says why and changes nothing, a signed-out
cookie is worth nothing, and the open health route tells no secrets."""

from __future__ import annotations

import asyncio
import re
import sqlite3

import aiohttp
import pytest
from foundation_support import ADMIN_TOKEN, StartHost, host_settings
from pydantic import ValidationError

from opencx_salesforce.devhost.sessions import SessionRepository
from opencx_salesforce.models import Channel, Contact
from opencx_salesforce.plugin import SalesforcePlugin
from opencx_salesforce.store.memory import MemoryStore

BEARER = {"Authorization": f"Bearer {ADMIN_TOKEN}"}


async def sessions_in(store: MemoryStore) -> int:
    return len(await SessionRepository(store).all())


async def test_a_5000_digit_admin_cookie_is_refused_not_a_500(
    start_host: StartHost, http: aiohttp.ClientSession
) -> None:
    host = await start_host(plugins={})
    cookie = {"Cookie": f"opencx_admin=abc.{'9' * 5000}.00"}
    for path in ("/api/sessions", "/inbox", "/admin/"):
        async with http.get(host.base_url + path, headers=cookie, allow_redirects=False) as r:
            assert r.status in (401, 303), (path, r.status)


@pytest.mark.parametrize(
    ("content_type", "body"),
    [
        ("application/x-www-form-urlencoded; charset=nope", b"token=x"),
        ("application/x-www-form-urlencoded", b"token=\xff\xfe"),
        ("multipart/form-data", b"--x\r\n"),
    ],
    ids=["bad charset", "not utf-8", "multipart without boundary"],
)
async def test_admin_login_with_an_unreadable_form_is_a_400(
    start_host: StartHost, http: aiohttp.ClientSession, content_type: str, body: bytes
) -> None:
    host = await start_host(plugins={})
    async with http.post(
        f"{host.base_url}/admin/login", data=body, headers={"Content-Type": content_type}
    ) as response:
        assert response.status == 400
        assert "form could not be read" in await response.text()
        assert "opencx_admin" not in response.cookies


@pytest.mark.parametrize(
    "body",
    [b'{"priority": ' + b"9" * 5000 + b"}", b'{"topic": "\xff"}'],
    ids=["5000-digit integer", "not utf-8"],
)
async def test_api_sessions_with_a_huge_integer_or_bad_bytes_is_a_400(
    start_host: StartHost, http: aiohttp.ClientSession, body: bytes
) -> None:
    store = MemoryStore()
    host = await start_host(plugins={}, store=store)
    headers = {**BEARER, "Content-Type": "application/json"}
    async with http.post(f"{host.base_url}/api/sessions", data=body, headers=headers) as r:
        assert r.status == 400
        answer = await r.json()
    assert answer["error"] == "bad_request"
    assert "number too long" in answer["message"] or "not UTF-8" in answer["message"]
    assert await sessions_in(store) == 0


async def test_logout_needs_its_csrf_value_and_ends_the_session_everywhere(
    start_host: StartHost,
) -> None:
    store = MemoryStore()
    host = await start_host(plugins={}, store=store)
    second = await start_host(plugins={}, store=store)  # another instance, same store
    jar = aiohttp.CookieJar(unsafe=True)
    async with aiohttp.ClientSession(cookie_jar=jar) as browser:
        await browser.post(f"{host.base_url}/admin/login", data={"token": ADMIN_TOKEN})
        cookie = next(c.value for c in jar if c.key == "opencx_admin")
        async with browser.post(f"{host.base_url}/admin/logout") as response:
            assert response.status == 403  # a cross-site form cannot sign the admin out
        async with browser.get(f"{host.base_url}/api/sessions") as response:
            assert response.status == 200
        async with browser.get(f"{host.base_url}/admin/") as response:
            csrf = re.search(r'name="csrf" value="([0-9a-f]+)"', await response.text())
        assert csrf is not None
        await browser.post(f"{host.base_url}/admin/logout", data={"csrf": csrf[1]})

    # The cookie a thief copied before sign-out is refused by every instance.
    async with aiohttp.ClientSession() as thief:
        for base in (host.base_url, second.base_url):
            async with thief.get(
                f"{base}/api/sessions", headers={"Cookie": f"opencx_admin={cookie}"}
            ) as response:
                assert response.status == 401


class UnwritableStore(MemoryStore):
    async def set(self, ns: str, key: str, value: bytes, *, ttl: float | None = None) -> None:
        if ns == "devhost.health":
            raise OSError("disk full: /var/lib/secret-path/store.db")
        await super().set(ns, key, value, ttl=ttl)


async def test_healthz_fails_when_the_store_cannot_write_and_tells_no_details(
    start_host: StartHost, http: aiohttp.ClientSession
) -> None:
    host = await start_host(plugins={}, store=UnwritableStore())
    async with http.get(f"{host.base_url}/healthz") as response:
        assert response.status == 503
        text = await response.text()
    assert "secret-path" not in text and "OSError" not in text
    assert (await response.json()) == {"status": "unavailable", "store": "not writable"}


async def test_the_inbox_never_links_a_javascript_case_url_and_sends_a_csp(
    start_host: StartHost, http: aiohttp.ClientSession
) -> None:
    store = MemoryStore()
    host = await start_host(plugins={}, store=store)
    session = await host.create_session(channel=Channel.EMAIL, contact=Contact(name="Ada"))
    await host.set_session_metadata(session.id, "salesforce_case_id", "500000000000001AAA")
    await host.set_session_metadata(session.id, "salesforce_case_url", "javascript:alert(1)")
    async with http.get(f"{host.base_url}/inbox/{session.id}", headers=BEARER) as response:
        page = await response.text()
        policy = response.headers["Content-Security-Policy"]
    assert "javascript:" not in page
    assert '<span id="case-link">500000000000001AAA</span>' in page
    assert "default-src 'none'" in policy and "script-src" not in policy


@pytest.mark.parametrize("path", ["/api/sessions", "/admin/login"])
async def test_a_half_sent_body_is_answered_408_not_held_open(
    start_host: StartHost, path: str
) -> None:
    host = await start_host(plugins={}, settings=host_settings(body_read_timeout_seconds=0.3))
    port = int(host.base_url.rsplit(":", 1)[1])
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(
        f"POST {path} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {ADMIN_TOKEN}\r\n"
        'Content-Type: application/json\r\nContent-Length: 100\r\n\r\n{"topic"'.encode()
    )
    await writer.drain()
    try:
        status_line = await asyncio.wait_for(reader.readline(), timeout=10)
    finally:
        writer.close()
    assert status_line.startswith(b"HTTP/1.1 408"), status_line


async def test_the_plugin_page_the_admin_home_lists_leads_to_its_settings(
    start_host: StartHost, http: aiohttp.ClientSession
) -> None:
    host = await start_host(
        plugins={"salesforce": SalesforcePlugin()},
        plugin_sections={"salesforce": {"dev_mode": True}},
    )
    async with http.get(
        f"{host.base_url}/integrations/salesforce/", allow_redirects=False
    ) as response:
        assert response.status == 302
        assert response.headers["Location"] == "/integrations/salesforce/admin"


async def test_a_store_that_refuses_writes_is_a_json_503_naming_it(
    start_host: StartHost, http: aiohttp.ClientSession, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The caller learns why and that it can send the message again; aiohttp
    answered a bare text 500."""
    store = MemoryStore()
    host = await start_host(plugins={}, store=store)
    session = await host.create_session(channel=Channel.WEB, contact=Contact(name="Ada"))

    async def read_only(*args: object, **kwargs: object) -> bool:
        # What a read-only database answers every write with (sqlite3's own error).
        raise sqlite3.OperationalError("attempt to write a readonly database")

    monkeypatch.setattr(store, "compare_and_set", read_only)
    url = f"{host.base_url}/api/sessions/{session.id}/messages"
    async with http.post(url, json={"role": "contact", "text": "hello?"}, headers=BEARER) as r:
        assert r.status == 503
        assert r.headers["Retry-After"] == "5"
        body = await r.json()
    assert body["error"] == "store_unavailable"
    assert "OperationalError: attempt to write a readonly database" in body["message"]
    assert "send it again" in body["message"]
    monkeypatch.undo()
    async with http.post(url, json={"role": "contact", "text": "hello?"}, headers=BEARER) as r:
        assert r.status == 201


async def test_guessing_the_admin_token_waits_after_ten_wrong_tries(
    start_host: StartHost, http: aiohttp.ClientSession
) -> None:
    """A guesser tried 1,000 tokens in 0.7 s; now the eleventh wrong token in a
    minute is answered 429, and so is the right one until the minute is over."""
    host = await start_host(plugins={})
    login = f"{host.base_url}/admin/login"
    for n in range(10):
        async with http.post(login, data={"token": f"guess-{n}"}) as response:
            assert response.status == 401
    for token in ("guess-10", ADMIN_TOKEN):
        async with http.post(login, data={"token": token}, allow_redirects=False) as response:
            assert response.status == 429
            assert 1 <= int(response.headers["Retry-After"]) <= 60
            assert "Too many wrong tokens" in await response.text()


def test_a_long_admin_token_of_few_different_characters_is_refused() -> None:
    for weak in ("aaaaaaaaaaaaaaaa", "adminadminadmin!"):
        with pytest.raises(ValidationError, match="at least 8 different characters"):
            host_settings(admin_token=weak)
