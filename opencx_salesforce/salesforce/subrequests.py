"""Composite subrequests, built from what the caller means, and the limits of
the composite resources, declared once.

Cases and replies say *what* they want (upsert this Case by its external id,
create these records, run this query) and get a :class:`Subrequest`; the URLs
and bodies Salesforce expects are spelled here and nowhere else.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from opencx_salesforce.salesforce.errors import ApiError, error_for_response

# Subrequests inherit these from the top-level request; repeating them fails the
# whole composite with a 400. [src: api_rest requests_composite.htm]
_INHERITED_HEADERS = frozenset({"accept", "authorization", "content-type"})
_REFERENCE_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_]*$")

# [src: api_rest resources_composite_composite_post.htm: at most 25 subrequests,
#  at most 5 of them sObject Collections or query operations;
#  resources_composite_graph_limits.htm; resources-composite-sobjects-collections-create.html]
COMPOSITE_MAX_SUBREQUESTS = 25
COMPOSITE_MAX_COLLECTIONS_OR_QUERIES = 5
GRAPH_MAX_GRAPHS = 75
GRAPH_MAX_NODES = 500
COLLECTIONS_MAX_RECORDS = 200


@dataclass(frozen=True)
class Subrequest:
    """One node of a composite or composite graph request. ``url`` may be relative
    to the versioned API root (``sobjects/Case``) or absolute from the instance
    (``/services/data/v62.0/sobjects/Case``); ``@{ref.id}`` references work in
    ``url`` and ``body``. [src: api_rest requests_composite.htm]"""

    method: str
    url: str
    reference_id: str
    body: Mapping[str, Any] | None = None
    http_headers: Mapping[str, str] | None = None


@dataclass(frozen=True)
class SubResponse:
    reference_id: str
    status: int
    body: Any
    headers: Mapping[str, str]

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300

    def error(self, url: str = "") -> ApiError | None:
        """The subrequest's failure as the same error a direct call would raise."""
        if self.ok:
            return None
        return error_for_response(url=url, status=self.status, body=self.body, headers=self.headers)


@dataclass(frozen=True)
class Graph:
    graph_id: str
    requests: Sequence[Subrequest]


@dataclass(frozen=True)
class GraphResult:
    graph_id: str
    is_successful: bool
    responses: list[SubResponse]


def path_value(value: str) -> str:
    """``value`` as the last segment of a REST path. A '.' there can be read as a
    file extension and answer 404, so it is encoded too.
    [src: api_rest resources_sobject_upsert_patch.htm]"""
    return quote(value, safe="").replace(".", "%2E")


def upsert(
    sobject: str, external_id_field: str, value: str, fields: Mapping[str, Any], *, ref: str
) -> Subrequest:
    """Insert or update the record whose ``external_id_field`` is ``value``.
    [src: api_rest dome_upsert.htm]"""
    url = f"sobjects/{sobject}/{external_id_field}/{path_value(value)}"
    return Subrequest("PATCH", url, ref, body=dict(fields))


def create(sobject: str, fields: Mapping[str, Any], *, ref: str) -> Subrequest:
    """Create one record. [src: api_rest dome_sobject_create.htm]"""
    return Subrequest("POST", f"sobjects/{sobject}", ref, body=dict(fields))


def update(sobject: str, record_id: str, fields: Mapping[str, Any], *, ref: str) -> Subrequest:
    """Update one record; ``record_id`` may be a ``@{ref.id}`` reference."""
    return Subrequest("PATCH", f"sobjects/{sobject}/{record_id}", ref, body=dict(fields))


def create_records(
    records: Sequence[Mapping[str, Any]], *, ref: str, all_or_none: bool
) -> Subrequest:
    """Create up to :data:`COLLECTIONS_MAX_RECORDS` records in one subrequest; each
    carries ``attributes.type``.
    [src: api_rest resources-composite-sobjects-collections-create.html]"""
    if len(records) > COLLECTIONS_MAX_RECORDS:
        raise ValueError(
            f"sObject Collections takes at most {COLLECTIONS_MAX_RECORDS} records, "
            f"got {len(records)}"
        )
    body = {"allOrNone": all_or_none, "records": [dict(r) for r in records]}
    return Subrequest("POST", "composite/sobjects", ref, body=body)


def query(soql: str, *, ref: str, include_deleted: bool = False) -> Subrequest:
    """The first page of a SOQL query; ``include_deleted``: with ``queryAll``, which
    also returns deleted and merged records. [src: api_rest resources_query.htm,
    resources_queryall.htm]"""
    resource = "queryAll" if include_deleted else "query"
    return Subrequest("GET", f"{resource}?q=" + quote(soql), ref)


def subrequests_json(requests: Sequence[Subrequest], api_root: str) -> list[dict[str, Any]]:
    """The ``compositeRequest`` array: each subrequest checked (reference ids,
    headers) and its relative URL made absolute from ``api_root``."""
    seen: set[str] = set()
    out = []
    for sub in requests:
        if not _REFERENCE_ID.match(sub.reference_id):
            raise ValueError(
                f"referenceId {sub.reference_id!r} must start with a letter or digit and "
                "hold only letters, digits and underscores"
            )
        if sub.reference_id in seen:
            raise ValueError(f"referenceId {sub.reference_id!r} is used twice")
        seen.add(sub.reference_id)
        item: dict[str, Any] = {
            "method": sub.method.upper(),
            "url": sub.url if sub.url.startswith("/") else f"{api_root}/{sub.url}",
            "referenceId": sub.reference_id,
        }
        if sub.body is not None:
            item["body"] = dict(sub.body)
        if sub.http_headers:
            bad = sorted(h for h in sub.http_headers if h.lower() in _INHERITED_HEADERS)
            if bad:
                raise ValueError(f"subrequest headers may not include {', '.join(bad)}")
            item["httpHeaders"] = dict(sub.http_headers)
        out.append(item)
    return out


def sub_response(item: Mapping[str, Any]) -> SubResponse:
    return SubResponse(
        reference_id=str(item.get("referenceId", "")),
        status=int(item.get("httpStatusCode", 0)),
        body=item.get("body"),
        headers=dict(item.get("httpHeaders") or {}),
    )
