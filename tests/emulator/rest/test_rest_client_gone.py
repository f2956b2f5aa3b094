"""A client that closes its connection halfway through sending a body: the
request never arrived whole, so nothing changes and nothing is logged as the
emulator's error (aiohttp's "Error handling request" with a traceback); one
debug line says what happened, and the emulator goes on serving."""

from __future__ import annotations

import asyncio
import logging
from urllib.parse import urlsplit

import pytest
from emulator_support import RestCaller


async def test_a_body_cut_short_changes_nothing_and_logs_no_error(
    rest: RestCaller, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    before = (await rest.get("query?q=SELECT+Id+FROM+Case")).body["totalSize"]
    url = urlsplit(rest.url("sobjects/Case"))
    _, writer = await asyncio.open_connection(url.hostname, url.port)
    writer.write(
        (
            f"POST {url.path} HTTP/1.1\r\nHost: {url.netloc}\r\n"
            f"Authorization: Bearer {rest.token}\r\nContent-Type: application/json\r\n"
            "Content-Length: 1000\r\n\r\n"
            '{"Subject": "cut sh'
        ).encode()
    )
    await writer.drain()
    await asyncio.sleep(0.05)  # the handler is reading the body
    writer.close()
    await writer.wait_closed()

    def handled() -> list[logging.LogRecord]:
        return [
            r
            for r in caplog.records
            if "client went away" in r.getMessage() or "Error handling request" in r.getMessage()
        ]

    for _ in range(100):
        if handled():
            break
        await asyncio.sleep(0.02)
    messages = [r.getMessage() for r in handled()]
    assert messages == [f"client went away during POST {url.path}"]
    assert handled()[0].levelno == logging.DEBUG
    assert (await rest.get("query?q=SELECT+Id+FROM+Case")).body["totalSize"] == before
