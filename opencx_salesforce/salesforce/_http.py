"""One HTTP exchange with Salesforce, and nothing more: send, read the whole
body, and turn "could not reach it" into :class:`TransportError`.

Deciding what an error *status* means is the caller's job (REST and OAuth
endpoints answer differently); this module only separates "no answer" from
"an answer".
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import aiohttp
from multidict import CIMultiDict, CIMultiDictProxy

from opencx_salesforce.salesforce.error_bodies import parse_body
from opencx_salesforce.salesforce.errors import TransportError
from opencx_salesforce.salesforce.json_body import json_bytes


@dataclass(frozen=True, slots=True)
class RawResponse:
    url: str
    status: int
    headers: CIMultiDictProxy[str]
    body: bytes

    def parsed(self) -> Any:
        return parse_body(self.body, self.headers.get("Content-Type"))


def timeout_for(total: float, connect: float | None = None) -> aiohttp.ClientTimeout:
    return aiohttp.ClientTimeout(total=total, connect=connect)


def display_url(url: str) -> str:
    """The URL for a message: without its query string, which may carry a SOQL
    query or a token parameter that does not belong in logs."""
    return url.split("?", 1)[0]


async def send(
    session: aiohttp.ClientSession,
    method: str,
    url: str,
    *,
    timeout: aiohttp.ClientTimeout,
    headers: Mapping[str, str] | None = None,
    params: Mapping[str, str] | None = None,
    data: Mapping[str, str] | None = None,
    json_body: Any = None,
) -> RawResponse:
    """Send one request and read the whole answer. Raises :class:`TransportError`
    when there is no complete answer; returns any status otherwise."""
    shown = display_url(url)
    sent_headers = CIMultiDict(headers or {})
    body: Mapping[str, str] | bytes | None = data
    if json_body is not None:
        body = json_bytes(json_body)
        # As aiohttp's json= does: a content type the caller set stands.
        sent_headers.setdefault("Content-Type", "application/json")
    try:
        async with session.request(
            method,
            url,
            headers=sent_headers,
            params=params,
            data=body,
            timeout=timeout,
            # Never follow a redirect with a bearer token to wherever it points;
            # Salesforce's REST and OAuth endpoints do not redirect API calls.
            allow_redirects=False,
        ) as response:
            body = await response.read()
            return RawResponse(
                url=shown, status=response.status, headers=response.headers, body=body
            )
    except TimeoutError as exc:
        # aiohttp's own timeouts subclass TimeoutError too, so this comes first.
        raise TransportError(
            f"no answer from Salesforce within {timeout.total} s", url=shown
        ) from exc
    except aiohttp.ClientError as exc:
        raise TransportError(
            f"could not reach Salesforce ({type(exc).__name__}: {exc})", url=shown
        ) from exc
