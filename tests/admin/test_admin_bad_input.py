"""Issue 16 items 7 and 11 on the settings routes: bad bytes and odd values are
a 4xx with a reason and change nothing, and showing the page writes nothing to
the store."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any

import aiohttp
import pytest
from admin_support import ADMIN_PATH, ADMIN_TOKEN, PREFIX, Stack, StartStack, text_of

from opencx_salesforce.devhost import DevHost, HostSettings
from opencx_salesforce.plugin import SalesforcePlugin
from opencx_salesforce.store.memory import MemoryStore

BEARER = {"Authorization": f"Bearer {ADMIN_TOKEN}"}


async def store_snapshot(stack: Stack) -> dict[str, dict[str, bytes | None]]:
    store = stack.host.store
    namespaces = ("salesforce", "salesforce.state", "salesforce.outbox", "devhost.admin_sessions")
    return {
        ns: {key: await store.get(ns, key) for key in await store.keys(ns)} for ns in namespaces
    }


@pytest.mark.parametrize(
    ("path", "content_type", "body"),
    [
        ("/admin/credentials", "application/json; charset=nope", b'{"client_id": "x"}'),
        ("/admin/credentials", "application/x-www-form-urlencoded; charset=nope", b"client_id=x"),
        ("/admin/dead-letters/retry", "application/x-www-form-urlencoded; charset=nope", b"x=1"),
        ("/admin/credentials", "application/json", b'{"client_id": ' + b"1" * 5000 + b"}"),
        ("/admin/credentials", "application/json", b'{"client_id": "\xff"}'),
        ("/admin/connect", "multipart/form-data", b"popup=1"),
    ],
)
async def test_an_admin_form_with_an_unknown_charset_or_bad_bytes_is_a_400(
    stack: Stack, path: str, content_type: str, body: bytes
) -> None:
    before = await store_snapshot(stack)
    async with (
        aiohttp.ClientSession() as http,
        http.post(
            stack.base_url + PREFIX + path,
            data=body,
            headers={**BEARER, "Content-Type": content_type, "Accept": "application/json"},
        ) as response,
    ):
        status, answer = response.status, await response.json()
    assert status == 400
    assert answer["error"]
    assert await store_snapshot(stack) == before


@pytest.mark.parametrize("count", ["%C2%B2", "9" * 5000, "-1", "%D9%A3"])
async def test_a_retried_notice_with_an_odd_count_shows_the_plain_notice(
    stack: Stack, count: str
) -> None:
    async with (
        aiohttp.ClientSession() as http,
        http.get(f"{stack.admin_url}?notice=retried&count={count}", headers=BEARER) as response,
    ):
        status, page = response.status, await response.text()
    assert status == 200
    assert "The dead letters are queued again." in text_of(page)


@pytest.mark.parametrize(
    "path", [ADMIN_PATH, f"{PREFIX}/admin/status.json", "/inbox", "/api/sessions"]
)
async def test_a_5000_digit_admin_cookie_is_refused_not_a_500(stack: Stack, path: str) -> None:
    async with (
        aiohttp.ClientSession() as http,
        http.get(
            stack.base_url + path,
            headers={"Cookie": f"opencx_admin=abc.{'9' * 5000}.def"},
            allow_redirects=False,
        ) as response,
    ):
        assert response.status in (303, 401, 403), response.status


class WriteCountingStore(MemoryStore):
    """A memory store that counts the writes it is asked for."""

    def __init__(self) -> None:
        super().__init__()
        self.writes: list[tuple[str, str]] = []

    async def set(self, ns: str, key: str, value: bytes, **kwargs: Any) -> None:
        self.writes.append((ns, key))
        await super().set(ns, key, value, **kwargs)

    async def set_many(self, ns: str, values: Mapping[str, bytes], **kwargs: Any) -> None:
        self.writes.extend((ns, key) for key in values)
        await super().set_many(ns, values, **kwargs)

    async def set_if_absent(self, ns: str, key: str, value: bytes, **kwargs: Any) -> bool:
        self.writes.append((ns, key))
        return await super().set_if_absent(ns, key, value, **kwargs)

    async def compare_and_set(self, ns: str, key: str, *args: Any, **kwargs: Any) -> bool:
        self.writes.append((ns, key))
        return await super().compare_and_set(ns, key, *args, **kwargs)

    async def delete(self, ns: str, key: str) -> bool:
        self.writes.append((ns, key))
        return await super().delete(ns, key)


async def test_showing_the_settings_page_writes_nothing_to_the_store(
    start_stack: StartStack,
) -> None:
    store = WriteCountingStore()
    plugin = SalesforcePlugin()
    host = DevHost(
        HostSettings(admin_token=ADMIN_TOKEN, store_url="memory://"),
        store=store,
        plugins={"salesforce": plugin},
        plugin_sections={"salesforce": {"dev_mode": True, "sweep_interval_seconds": 3600}},
    )
    url = await host.start(host="127.0.0.1", port=0)
    try:
        async with aiohttp.ClientSession() as http:
            # The first view may make the CSRF key; every view after it only reads.
            async with http.get(url + ADMIN_PATH, headers=BEARER) as response:
                assert response.status == 200
            store.writes.clear()
            for _ in range(3):
                async with http.get(url + ADMIN_PATH, headers=BEARER) as response:
                    assert response.status == 200
                async with http.get(
                    url + PREFIX + "/admin/status.json", headers=BEARER
                ) as response:
                    assert response.status == 200
        assert store.writes == []
    finally:
        await host.stop()


async def raw_request(stack: Stack, head: bytes) -> int:
    """The status of a request sent byte for byte (aiohttp's client would not
    send header values that are not Latin-1)."""
    port = int(stack.base_url.rsplit(":", 1)[1])
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(head)
        await writer.drain()
        status_line = await reader.readline()
    finally:
        writer.close()
    return int(status_line.split()[1])


async def test_a_csrf_cookie_or_header_of_bytes_that_are_not_utf8_is_not_a_500(
    stack: Stack,
) -> None:
    """A cookie planted for the host (a sibling subdomain, plain http on the way)
    made the settings page fail for the admin with a 500."""
    auth = f"Authorization: Bearer {ADMIN_TOKEN}\r\n".encode()
    page = b"GET " + ADMIN_PATH.encode() + b" HTTP/1.1\r\nHost: x\r\n" + auth
    assert await raw_request(stack, page + b"Cookie: opencx_sf_csrf=\xff\xfe\r\n\r\n") == 200
    retry = (PREFIX + "/admin/dead-letters/retry").encode()
    post = b"POST " + retry + b" HTTP/1.1\r\nHost: x\r\n" + auth
    forged = b"Cookie: opencx_sf_csrf=abc\r\nX-CSRF-Token: \xff\r\nContent-Length: 0\r\n\r\n"
    assert await raw_request(stack, post + forged) == 403
