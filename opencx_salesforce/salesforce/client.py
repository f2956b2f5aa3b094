"""The REST client: every call to a Salesforce org goes through
:meth:`SalesforceClient.request`.

That one funnel adds the bearer token, reads the org's API usage from the
``Sforce-Limit-Info`` header, maps error answers to
:mod:`~opencx_salesforce.salesforce.errors`, refreshes the token once on 401
INVALID_SESSION_ID and retries, and counts the calls it made (each one spends
the customer's daily quota).

It does not retry anything else and does not sleep: waiting belongs to the
durable outbox, which keeps the work across restarts and honours each error's
``retry_after``. Helpers build on the funnel and prefer the calls that do the
most per unit of quota (composite, graph, collections: one call each).
[src: api_rest resources_composite_composite_post.htm "counts as a single call"]
"""

from __future__ import annotations

import email.utils
import logging
from collections import Counter
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol
from urllib.parse import quote

import aiohttp
from multidict import CIMultiDictProxy

from opencx_salesforce.salesforce._http import RawResponse, send, timeout_for
from opencx_salesforce.salesforce.call_kind import call_kind
from opencx_salesforce.salesforce.errors import (
    ErrorDetail,
    SalesforceError,
    SessionExpired,
    error_for_response,
)
from opencx_salesforce.salesforce.subrequests import (
    COLLECTIONS_MAX_RECORDS,
    COMPOSITE_MAX_SUBREQUESTS,
    GRAPH_MAX_GRAPHS,
    GRAPH_MAX_NODES,
    Graph,
    GraphResult,
    Subrequest,
    SubResponse,
    path_value,
    sub_response,
    subrequests_json,
)
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


@dataclass(frozen=True)
class SaveResult:
    """One record of an sObject Collections answer (errors use ``statusCode``)."""

    id: str | None
    success: bool
    errors: tuple[ErrorDetail, ...]


@dataclass(frozen=True)
class UpsertResult:
    id: str | None  # None for the pre-v46.0 "204 No Content" update answer
    created: bool


class SalesforceClient:
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
        self._describe_cache: dict[str, tuple[str, Any]] = {}
        self.usage: ApiUsage | None = None
        self.calls = 0  # REST requests sent, each one spending quota
        # For /metrics: calls by resource kind, error answers by Salesforce's code.
        self.calls_by_kind: Counter[str] = Counter()
        self.errors_by_code: Counter[str] = Counter()

    async def record_url(self, sobject: str, record_id: str) -> str:
        """Where a person opens the record in Salesforce (Lightning Experience)."""
        token = await self._tokens.access_token()
        return f"{token.instance_url.rstrip('/')}/lightning/r/{sobject}/{record_id}/view"

    @property
    def api_root(self) -> str:
        """The versioned path every REST resource hangs from."""
        return f"/services/data/v{self.api_version}"

    async def close(self) -> None:
        if self._owns_session and self._session is not None:
            await self._session.close()
            self._session = None

    async def __aenter__(self) -> SalesforceClient:
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

    # --- single records -------------------------------------------------------------

    async def get(
        self, sobject: str, record_id: str, fields: Sequence[str] | None = None
    ) -> dict[str, Any]:
        params = {"fields": ",".join(fields)} if fields else None
        response = await self.request(
            "GET", f"sobjects/{sobject}/{quote(record_id, safe='')}", params=params
        )
        return _as_dict(response.data)

    async def create(self, sobject: str, fields: Mapping[str, Any]) -> str:
        """Create a record; its Id. [src: api_rest dome_sobject_create.htm]"""
        response = await self.request("POST", f"sobjects/{sobject}", json=dict(fields))
        return str(_as_dict(response.data)["id"])

    async def update(self, sobject: str, record_id: str, fields: Mapping[str, Any]) -> None:
        """Update a record (204 No Content)."""
        await self.request(
            "PATCH", f"sobjects/{sobject}/{quote(record_id, safe='')}", json=dict(fields)
        )

    async def upsert(
        self, sobject: str, external_id_field: str, value: str, fields: Mapping[str, Any]
    ) -> UpsertResult:
        """Insert or update by external id: 201 created, 200 updated (v46.0+) or
        204 (older versions); 300 when several records match.
        [src: api_rest dome_upsert.htm]"""
        response = await self.request(
            "PATCH",
            f"sobjects/{sobject}/{external_id_field}/{path_value(value)}",
            json=dict(fields),
        )
        if response.status == 204:
            return UpsertResult(id=None, created=False)
        data = _as_dict(response.data)
        created = bool(data.get("created", response.status == 201))
        return UpsertResult(id=str(data["id"]) if data.get("id") else None, created=created)

    # --- composite ------------------------------------------------------------------

    async def composite(
        self,
        requests: Sequence[Subrequest],
        all_or_none: bool = False,
        *,
        collate_subrequests: bool | None = None,
    ) -> list[SubResponse]:
        """Up to 25 subrequests in one call. The top level answers 200 whatever
        the subrequests did: check each :class:`SubResponse`.
        [src: api_rest resources_composite_composite_post.htm]"""
        if not requests:
            return []
        if len(requests) > COMPOSITE_MAX_SUBREQUESTS:
            raise ValueError(
                f"a composite request takes at most {COMPOSITE_MAX_SUBREQUESTS} subrequests, "
                f"got {len(requests)}"
            )
        body: dict[str, Any] = {
            "allOrNone": all_or_none,
            "compositeRequest": subrequests_json(requests, self.api_root),
        }
        if collate_subrequests is not None:
            body["collateSubrequests"] = collate_subrequests
        response = await self.request("POST", "composite", json=body)
        return [sub_response(item) for item in _as_dict(response.data)["compositeResponse"]]

    async def composite_graph(self, graphs: Sequence[Graph]) -> list[GraphResult]:
        """Graphs of up to 500 nodes in one call; each graph is all or nothing.
        [src: api_rest resources_composite_graph.htm; resources_composite_graph_limits.htm]"""
        if not graphs:
            return []
        nodes = sum(len(g.requests) for g in graphs)
        if len(graphs) > GRAPH_MAX_GRAPHS or nodes > GRAPH_MAX_NODES:
            raise ValueError(
                f"a composite graph payload takes at most {GRAPH_MAX_GRAPHS} graphs and "
                f"{GRAPH_MAX_NODES} nodes, got {len(graphs)} graphs and {nodes} nodes"
            )
        body = {
            "graphs": [
                {
                    "graphId": g.graph_id,
                    "compositeRequest": subrequests_json(g.requests, self.api_root),
                }
                for g in graphs
            ]
        }
        response = await self.request("POST", "composite/graph", json=body)
        results = []
        for item in _as_dict(response.data)["graphs"]:
            graph_response = item.get("graphResponse") or {}
            results.append(
                GraphResult(
                    graph_id=str(item.get("graphId", "")),
                    is_successful=bool(item.get("isSuccessful")),
                    responses=[
                        sub_response(r) for r in graph_response.get("compositeResponse", [])
                    ],
                )
            )
        return results

    async def collections_create(
        self, records: Sequence[Mapping[str, Any]], all_or_none: bool = False
    ) -> list[SaveResult]:
        """Create up to 200 records (types may mix) in one call; one SaveResult
        per record, in order. Each record needs ``attributes.type``.
        [src: api_rest resources-composite-sobjects-collections-create.html]"""
        if not records:
            return []
        if len(records) > COLLECTIONS_MAX_RECORDS:
            raise ValueError(
                f"sObject Collections takes at most {COLLECTIONS_MAX_RECORDS} records, "
                f"got {len(records)}"
            )
        for index, record in enumerate(records):
            attributes = record.get("attributes")
            if not isinstance(attributes, Mapping) or not attributes.get("type"):
                raise ValueError(f"record {index} has no attributes.type")
        body = {"allOrNone": all_or_none, "records": [dict(r) for r in records]}
        response = await self.request("POST", "composite/sobjects", json=body)
        if not isinstance(response.data, list):
            raise SalesforceError(
                "sObject Collections did not answer with a list", status=response.status
            )
        return [
            SaveResult(
                id=str(item["id"]) if item.get("id") else None,
                success=bool(item.get("success")),
                errors=tuple(ErrorDetail.from_json(e) for e in item.get("errors") or ()),
            )
            for item in response.data
        ]

    # --- queries --------------------------------------------------------------------

    async def query(self, soql: str, *, include_deleted: bool = False) -> dict[str, Any]:
        """The first page of a SOQL query ({totalSize, done, nextRecordsUrl?,
        records}). [src: api_rest resources_query.htm]"""
        resource = "queryAll" if include_deleted else "query"
        response = await self.request("GET", resource, params={"q": soql})
        return _as_dict(response.data)

    async def query_more(self, next_records_url: str) -> dict[str, Any]:
        """The page at ``nextRecordsUrl``, taken as it is. [src: api_rest dome_query.htm]"""
        response = await self.request("GET", next_records_url)
        return _as_dict(response.data)

    async def query_all_pages(
        self, soql: str, *, include_deleted: bool = False
    ) -> AsyncIterator[dict[str, Any]]:
        """Every page of a query, following ``nextRecordsUrl`` until ``done``
        (up to 2,000 records a page, one API call each)."""
        page = await self.query(soql, include_deleted=include_deleted)
        yield page
        while not page.get("done", True) and page.get("nextRecordsUrl"):
            page = await self.query_more(str(page["nextRecordsUrl"]))
            yield page

    async def query_records(self, soql: str, *, include_deleted: bool = False) -> list[Any]:
        """Every record of a query, all pages read."""
        records: list[Any] = []
        async for page in self.query_all_pages(soql, include_deleted=include_deleted):
            records.extend(page.get("records", []))
        return records

    async def tooling_query(self, soql: str) -> dict[str, Any]:
        """A query on the Tooling API (ApexClass, ApexTrigger, NamedCredential…)."""
        response = await self.request("GET", "tooling/query", params={"q": soql})
        return _as_dict(response.data)

    async def execute_anonymous(self, apex: str) -> dict[str, Any]:
        """Run anonymous Apex; the ExecuteAnonymousResult ({compiled, success,
        compileProblem, exceptionMessage, …}). A failed run is an answer, not an
        error. [src: api sforce_api_calls_executeanonymous_result.htm]"""
        response = await self.request(
            "GET", "tooling/executeAnonymous", params={"anonymousBody": apex}
        )
        return _as_dict(response.data)

    # --- metadata -------------------------------------------------------------------

    async def describe(self, sobject: str) -> dict[str, Any]:
        """An object's describe. Cached in memory; later calls send
        If-Modified-Since and reuse the cache on 304 (no body to download).
        [src: api_rest sobject_describe_with_ifmodified_header.htm]"""
        cached = self._describe_cache.get(sobject)
        headers = {"If-Modified-Since": cached[0]} if cached else None
        response = await self.request("GET", f"sobjects/{sobject}/describe", headers=headers)
        if response.status == 304 and cached is not None:
            return dict(cached[1])
        data = _as_dict(response.data)
        # Prefer the server's own timestamps; fall back to now.
        stamp = (
            response.headers.get("Last-Modified")
            or response.headers.get("Date")
            or email.utils.formatdate(usegmt=True)
        )
        self._describe_cache[sobject] = (stamp, data)
        return dict(data)

    async def limits(self) -> dict[str, Any]:
        """The org's limits ({"DailyApiRequests": {"Max", "Remaining"}, …}).
        [src: api_rest resources_limits.htm]"""
        response = await self.request("GET", "limits")
        return _as_dict(response.data)


def _as_dict(data: Any) -> dict[str, Any]:
    if not isinstance(data, dict):
        raise SalesforceError(f"expected a JSON object from Salesforce, got {type(data).__name__}")
    return data
