"""The one funnel every call to a Salesforce org goes through:
:meth:`RestFunnel.request`.

It adds the bearer token, reads the org's API usage from the
``Sforce-Limit-Info`` header, maps error answers to
:mod:`~opencx_salesforce.salesforce.errors`, refreshes the token once on 401
INVALID_SESSION_ID and retries, and counts the calls it made (each one spends
the customer's daily quota).

It does not retry anything else and does not sleep: waiting belongs to the
durable outbox, which keeps the work across restarts and honours each error's
``retry_after``. The resource calls built on it are
:class:`~opencx_salesforce.salesforce.client.SalesforceClient`'s.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol

import aiohttp
from multidict import CIMultiDictProxy

from opencx_salesforce.salesforce._http import RawResponse, send, timeout_for
from opencx_salesforce.salesforce.call_kind import call_kind
from opencx_salesforce.salesforce.errors import SalesforceError, SessionExpired, error_for_response
from opencx_salesforce.salesforce.usage import ApiUsage, parse_limit_info

log = logging.getLogger(__name__)


class BearerToken(Protocol):
    @property
    def access_token(self) -> str: ...

    @property
    def instance_url(self) -> str: ...


class TokenSource(Protocol):
    """Where the client gets tokens: :class:`~.tokens.TokenManager`."""

    async def access_token(self) -> BearerToken: ...

    async def refresh(self, stale_token: str | None = None) -> BearerToken: ...


@dataclass(frozen=True, slots=True)
class Response:
    status: int
    headers: CIMultiDictProxy[str]
    data: Any  # parsed JSON, text, or None for an empty body


class RestFunnel:
    """Talks to the org the token points at (its ``instance_url``).

    ``session`` is injectable: tests and the host pass their own (and close it);
    without one the client opens its own on first use and :meth:`close` closes it.
    """

    def __init__(
        self,
        tokens: TokenSource,
        *,
        api_version: str = "62.0",
        session: aiohttp.ClientSession | None = None,
        timeout: float = 30.0,
        connect_timeout: float = 10.0,
        usage_warning: float = 0.9,
    ) -> None:
        self._tokens = tokens
        self.api_version = api_version.removeprefix("v")
        self._session = session
        self._owns_session = session is None
        self._timeout = timeout_for(timeout, connect_timeout)
        self._usage_warning = usage_warning
        # The describe cache (SalesforceClient.describe) lives as long as the session.
        self._describe_cache: dict[str, tuple[str, Any]] = {}
        self.usage: ApiUsage | None = None
        self.calls = 0  # REST requests sent, each one spending quota
        # For /metrics: calls by resource kind, error answers by Salesforce's code.
        self.calls_by_kind: Counter[str] = Counter()
        self.errors_by_code: Counter[str] = Counter()
        # The instance the last answered request went to (record_url's answer
        # for the records that request wrote, without reading the grant again).
        self._answered_on: str | None = None

    async def record_url(self, sobject: str, record_id: str) -> str:
        """Where a person opens the record in Salesforce (Lightning Experience):
        on the instance that answered the last request (the one that wrote the
        record, for a caller that just did), else the grant's."""
        instance_url = self._answered_on
        if instance_url is None:
            instance_url = (await self._tokens.access_token()).instance_url
        return f"{instance_url.rstrip('/')}/lightning/r/{sobject}/{record_id}/view"

    @property
    def api_root(self) -> str:
        """The versioned path every REST resource hangs from."""
        return f"/services/data/v{self.api_version}"

    async def close(self) -> None:
        if self._owns_session and self._session is not None:
            await self._session.close()
            self._session = None

    async def __aenter__(self) -> RestFunnel:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    # --- the funnel -----------------------------------------------------------------

    async def request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, str] | None = None,
        json: Any = None,
        headers: Mapping[str, str] | None = None,
    ) -> Response:
        """Send one REST request; return its answer or raise its error.

        ``path``: relative to the API root (``sobjects/Case``), or absolute on
        the instance (``/services/data/v62.0/query/01g…-2000``). A 304 is an
        answer, not an error (conditional requests)."""
        token = await self._tokens.access_token()
        try:
            return await self._send(token, method, path, params, json, headers)
        except SessionExpired:
            # The access token expired (sessions time out; no expires_in is
            # given): refresh once, shared by every caller, and try again.
            # [src: api_meta meta_error_handling_session_exp.htm]
            fresh = await self._tokens.refresh(token.access_token)
            return await self._send(fresh, method, path, params, json, headers)

    async def _send(
        self,
        token: BearerToken,
        method: str,
        path: str,
        params: Mapping[str, str] | None,
        body: Any,
        extra_headers: Mapping[str, str] | None,
    ) -> Response:
        url = self._url(token.instance_url, path)
        headers = {"Authorization": f"Bearer {token.access_token}", "Accept": "application/json"}
        headers.update(extra_headers or {})
        self.calls += 1
        self.calls_by_kind[call_kind(path)] += 1
        raw = await send(
            self._http(),
            method,
            url,
            timeout=self._timeout,
            headers=headers,
            params=params,
            json_body=body,
        )
        self._note_usage(raw)
        data = raw.parsed()
        if raw.status >= 400 or (300 <= raw.status < 400 and raw.status != 304):
            error = error_for_response(
                url=raw.url, status=raw.status, body=data, headers=raw.headers
            )
            self.errors_by_code[error.error_code or f"HTTP_{raw.status}"] += 1
            raise error
        self._answered_on = token.instance_url
        return Response(status=raw.status, headers=raw.headers, data=data)

    def _url(self, instance_url: str, path: str) -> str:
        if "://" in path:
            # A token is only ever sent to the org's own instance.
            if not path.startswith(instance_url.rstrip("/") + "/"):
                raise ValueError(f"refusing to send the Salesforce token to {path!r}")
            return path
        base = instance_url.rstrip("/")
        if path.startswith("/"):
            return base + path
        return f"{base}{self.api_root}/{path}"

    def _note_usage(self, raw: RawResponse) -> None:
        usage = parse_limit_info(raw.headers.get("Sforce-Limit-Info"))
        if usage is None:
            return
        before = self.usage
        self.usage = usage
        crossed = usage.fraction >= self._usage_warning and (
            before is None or before.fraction < self._usage_warning
        )
        if crossed:
            log.warning(
                "Salesforce org has used %d of its %d daily API calls (%.0f%%)",
                usage.used,
                usage.limit,
                usage.fraction * 100,
            )

    def _http(self) -> aiohttp.ClientSession:
        if self._session is None:
            self._session = aiohttp.ClientSession()
        return self._session


def as_dict(data: Any) -> dict[str, Any]:
    if not isinstance(data, dict):
        raise SalesforceError(f"expected a JSON object from Salesforce, got {type(data).__name__}")
    return data
