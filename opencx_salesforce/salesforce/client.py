"""The REST client: the Salesforce resources the plugin uses (records, upsert,
composite, graph, collections, queries, describe, limits), each built on the
one request funnel (:mod:`.funnel`), which adds the token, maps errors and
counts calls. The helpers prefer the calls that do the most per unit of quota
(composite, graph, collections: one call each).
[src: api_rest resources_composite_composite_post.htm "counts as a single call"]
"""

from __future__ import annotations

import email.utils
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from opencx_salesforce.salesforce.errors import ErrorDetail, SalesforceError
from opencx_salesforce.salesforce.funnel import (
    BearerToken,
    Response,
    RestFunnel,
    TokenSource,
    as_dict,
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

__all__ = [
    "BearerToken",
    "Response",
    "SalesforceClient",
    "SaveResult",
    "TokenSource",
    "UpsertResult",
]


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


class SalesforceClient(RestFunnel):
    """The REST resources the plugin uses, each one call through the funnel."""

    # --- single records -------------------------------------------------------------

    async def get(
        self, sobject: str, record_id: str, fields: Sequence[str] | None = None
    ) -> dict[str, Any]:
        params = {"fields": ",".join(fields)} if fields else None
        response = await self.request(
            "GET", f"sobjects/{sobject}/{quote(record_id, safe='')}", params=params
        )
        return as_dict(response.data)

    async def create(self, sobject: str, fields: Mapping[str, Any]) -> str:
        """Create a record; its Id. [src: api_rest dome_sobject_create.htm]"""
        response = await self.request("POST", f"sobjects/{sobject}", json=dict(fields))
        return str(as_dict(response.data)["id"])

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
        data = as_dict(response.data)
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
        return [sub_response(item) for item in as_dict(response.data)["compositeResponse"]]

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
        for item in as_dict(response.data)["graphs"]:
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
        return as_dict(response.data)

    async def query_more(self, next_records_url: str) -> dict[str, Any]:
        """The page at ``nextRecordsUrl``, taken as it is. [src: api_rest dome_query.htm]"""
        response = await self.request("GET", next_records_url)
        return as_dict(response.data)

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
        return as_dict(response.data)

    async def execute_anonymous(self, apex: str) -> dict[str, Any]:
        """Run anonymous Apex; the ExecuteAnonymousResult ({compiled, success,
        compileProblem, exceptionMessage, …}). A failed run is an answer, not an
        error. [src: api sforce_api_calls_executeanonymous_result.htm]"""
        response = await self.request(
            "GET", "tooling/executeAnonymous", params={"anonymousBody": apex}
        )
        return as_dict(response.data)

    # --- metadata -------------------------------------------------------------------

    async def describe(self, sobject: str, *, fresh: bool = False) -> dict[str, Any]:
        """An object's describe. Cached in memory; later calls send
        If-Modified-Since and reuse the cache on 304 (no body to download).
        [src: api_rest sobject_describe_with_ifmodified_header.htm]
        ``fresh``: read it whole. The header's dates are whole seconds (RFC 9110
        §5.6.7), so a field deployed within the second of the kept describe's
        Last-Modified answers 304 for as long as that describe is kept."""
        cached = None if fresh else self._describe_cache.get(sobject)
        headers = {"If-Modified-Since": cached[0]} if cached else None
        response = await self.request("GET", f"sobjects/{sobject}/describe", headers=headers)
        if response.status == 304 and cached is not None:
            return dict(cached[1])
        data = as_dict(response.data)
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
        return as_dict(response.data)
