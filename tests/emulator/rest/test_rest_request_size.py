"""How long a request's URI and headers may be: Salesforce's 16,384-byte limits
(api_rest errorcodes.htm: 414 "The length of the URI exceeds the 16,384 byte
limit"; 431 "The combined length of the URI and headers exceeds the 16,384 byte
limit"), not the 8 KB of the HTTP library under the emulator."""

from __future__ import annotations

from urllib.parse import quote

from emulator_support import RestCaller
from yarl import URL

CASE_ID = "5005g000000000FAAQ"


def sent_length(rest: RestCaller, path: str) -> int:
    """The bytes of the request target as the client sends it."""
    return len(URL(rest.url(path)).raw_path_qs)


def in_query(count: int) -> str:
    ids = ",".join([f"'{CASE_ID}'"] * count)
    return "query?q=" + quote(f"SELECT Id FROM Case WHERE Id IN ({ids})")


async def test_a_uri_under_16384_bytes_is_served(rest: RestCaller) -> None:
    path = in_query(400)
    assert 8_190 < sent_length(rest, path) < 16_384
    reply = await rest.get(path)
    assert reply.status == 200, reply.text
    assert reply.body["totalSize"] == 0


async def test_a_uri_over_16384_bytes_is_414(rest: RestCaller) -> None:
    path = in_query(900)
    assert sent_length(rest, path) > 16_384
    reply = await rest.get(path)
    assert reply.status == 414
    assert "16,384" in reply.text


async def test_headers_count_with_the_uri_toward_16384_bytes(rest: RestCaller) -> None:
    """A long header is fine on its own; with a long URI the two together are
    refused with 431."""
    header = {"X-Trace": "t" * 9_000}
    alone = await rest.get("limits", headers=header)
    assert alone.status == 200, alone.text
    both = await rest.get(in_query(350), headers=header)
    assert both.status == 431
    assert "16,384" in both.text
