"""Reaching the webhook from here: the signed ping the org would send, sent by
the doctor itself (to the public URL, or to the route served in process)."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from urllib.parse import urlsplit, urlunsplit

import aiohttp
from aiohttp import web

from opencx_salesforce.apex import contract
from opencx_salesforce.replies.webhook import add_webhook_routes
from opencx_salesforce.runtime import ROUTE_PREFIX, Runtime
from opencx_salesforce.salesforce.secrets import mask
from opencx_salesforce.web.context import attach

_PROBE_TIMEOUT = 10.0
# A well-formed org Id for a probe sent before any org is known.
_PLACEHOLDER_ORG_ID = "00D000000000000AAA"


# --- reaching the webhook from here ------------------------------------------------------


@dataclass(frozen=True)
class Probe:
    """What the webhook answered a signed ping sent from this machine."""

    status: int | None  # None: nothing answered
    error: str | None = None


def ping_request(services: Runtime, org_id: str | None) -> tuple[bytes, dict[str, str]]:
    """A ping as the generated Apex sends it: body and headers, signed when a
    signing secret is set (DESIGN.md, "The webhook contract")."""
    body = json.dumps(
        {
            contract.FIELD_EVENT: contract.EVENT_PING,
            contract.FIELD_ORG_ID: org_id or _PLACEHOLDER_ORG_ID,
            contract.FIELD_CASE_ID: None,
            contract.FIELD_RECORD_ID: None,
            contract.FIELD_OCCURRED_AT: datetime.now(UTC).strftime(contract.OCCURRED_AT_STRFTIME),
        },
        separators=(",", ":"),
    ).encode()
    timestamp = str(int(time.time()))
    headers = {
        contract.HEADER_CONTENT_TYPE: contract.CONTENT_TYPE_JSON,
        contract.HEADER_TIMESTAMP: timestamp,
    }
    secret = services.signing_secret
    if secret is not None:
        headers[contract.HEADER_SIGNATURE] = contract.sign(secret, timestamp, body)
    return body, headers


async def probe_webhook(services: Runtime, url: str) -> Probe:
    """POST a signed ping to ``url``; what answered."""
    status = await services.tokens.status()
    body, headers = ping_request(services, status.org_id)
    try:
        async with services.http.post(
            url,
            data=body,
            headers=headers,
            allow_redirects=False,
            timeout=aiohttp.ClientTimeout(total=_PROBE_TIMEOUT),
        ) as response:
            await response.read()
            return Probe(response.status)
    except (aiohttp.ClientError, TimeoutError) as exc:
        return Probe(None, str(exc) or type(exc).__name__)


async def probe_route_in_process(services: Runtime) -> Probe:
    """The plugin's own webhook route, served here on a loopback port for one
    signed ping: does it accept this install's token and signature?"""
    routes = web.Application()
    attach(routes, lambda: services)
    add_webhook_routes(routes)
    app = web.Application()
    app.add_subapp(ROUTE_PREFIX, routes)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    try:
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port = runner.addresses[0][1]
        path = f"{ROUTE_PREFIX}/webhook/{services.webhook_token}"
        return await probe_webhook(services, f"http://127.0.0.1:{port}{path}")
    finally:
        await runner.cleanup()


def normalise_url(url: str) -> str:
    """``url`` as a server tells addresses apart: scheme and host in lower case,
    no default port, no fragment. The path stays as it is: the webhook route
    matches it exactly (a trailing slash is another address)."""
    parts = urlsplit(url.strip())
    scheme = parts.scheme.lower()
    host = (parts.hostname or "").lower()
    if ":" in host:
        host = f"[{host}]"
    try:
        port = parts.port
    except ValueError:
        return url.strip()
    default = {"http": 80, "https": 443}.get(scheme)
    netloc = host if port in (None, default) else f"{host}:{port}"
    return urlunsplit((scheme, netloc, parts.path, parts.query, ""))


def masked_webhook_url(url: str) -> str:
    """``url`` with any webhook token in its path masked (it is the webhook's key)."""
    marker = "/webhook/"
    head, found, tail = url.partition(marker)
    if not found or not tail:
        return url
    segment, slash, rest = tail.partition("/")
    return f"{head}{marker}{mask(segment)}{slash}{rest}"
