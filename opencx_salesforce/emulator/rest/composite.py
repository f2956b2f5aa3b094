"""Composite: ``POST /services/data/vXX.X/composite`` runs up to 25 REST
subrequests in one call, each able to use an earlier one's response through
``@{referenceId...}``; ``GET`` lists the other composite resources.
[src: api_rest resources_composite_composite_post.htm "Send Multiple Requests
Using Composite"; requests_composite.htm "Composite Request Body";
resources_composite_subrequest_result.htm; SALESFORCE.md §3]

The whole call counts as ONE API request (the HTTP layer counts it; subrequests
go through :func:`dispatch`, which never counts). Subrequest bodies, statuses and
headers are exactly what the same REST call answers on its own.

``allOrNone`` (default false):

* true — the first failing subrequest (HTTP status 400 or more; an sObject
  Collections subrequest with a failed record) rolls the whole composite back; it
  keeps its own response and every other subrequest answers 400 PROCESSING_HALTED
  "The transaction was rolled back since another operation in the same transaction
  failed." An sObject Collections subrequest runs all-or-none whatever its own
  flag. [src: resources_composite_allornone.htm]
* false — each subrequest stands alone; one that references a failed subrequest
  finds no value and fails with PROCESSING_HALTED "Invalid reference specified...".

Either way the top-level status is 200. [src: requests_composite.htm allOrNone]

``collateSubrequests`` (v48.0+, default true from v49.0): with collation the
platform may bulkify unrelated subrequests of the same method and API version on
``/sobjects`` resources into shared DML, so their order of execution "is not
guaranteed"; subrequests with httpHeaders are never collated. Nothing a client can
rely on differs: both settings must return the same results for independent
subrequests, and explicit references always run after their target. The emulator
therefore runs subrequests in listed order in both cases (a valid collated order)
and only checks the flag's type. [src: requests_composite.htm collateSubrequests]

Request-level rejections (HTTP 400, nothing executed): more than 25 subrequests
(recorded body: a compositeResponse with one LIMIT_EXCEEDED item whose
referenceId is null); a referenceId with illegal characters in v52.0+ (documented
JSON_PARSER_ERROR body); an Accept, Authorization or Content-Type subrequest
header (documented status, body UNCONFIRMED). Other malformed input answers a
plain error array whose wording is UNCONFIRMED.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from opencx_salesforce.emulator.rest.composite_refs import (
    UnresolvedReference,
    referenced_ids,
    resolve,
    resolve_url,
)
from opencx_salesforce.emulator.rest.dispatch import (
    RestRequest,
    RestResponse,
    Route,
    dispatch,
    split_url,
)
from opencx_salesforce.emulator.rest.errors import ApiError

# "You can have up to 25 subrequests in a single call." [src: composite post doc]
MAX_SUBREQUESTS = 25
# "Up to 5 of these subrequests can be sObject Collections or query operations,
# including Query and QueryAll requests." [src: resources_composite_composite_post.htm]
MAX_QUERY_OR_COLLECTIONS = 5
# Methods a subrequest may use, case-sensitive. [src: requests_composite.htm method]
COMPOSITE_METHODS = ("POST", "PUT", "PATCH", "GET", "DELETE")
# Headers a subrequest inherits and must not set. [src: requests_composite.htm]
INHERITED_HEADERS = frozenset({"accept", "authorization", "content-type"})
# sObject Collections may be a subrequest from v43.0. [src: composite post doc]
COLLECTIONS_IN_COMPOSITE_VERSION = 43.0
# From v52.0 an illegal referenceId fails the whole request.
# [src: requests_composite.htm "Behavior and Responses If There Are Illegal Characters"]
STRICT_REFERENCE_ID_VERSION = 52.0

REFERENCE_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_]*")

PROCESSING_HALTED = "PROCESSING_HALTED"
ROLLED_BACK_MESSAGE = (
    "The transaction was rolled back since another operation in the same transaction failed."
)


@dataclass(frozen=True)
class Subrequest:
    """One parsed subrequest (composite or graph node)."""

    method: str
    url: str
    reference_id: str
    body: Any = None
    has_body: bool = False
    headers: Mapping[str, str] = field(default_factory=dict)

    @property
    def resource(self) -> str:
        """The path after ``/services/data/vXX.X/`` (references left as written)."""
        return split_url(self.url)[1]

    @property
    def version(self) -> float:
        return float(split_url(self.url)[0])


def bad_request(message: str, error_code: str = "JSON_PARSER_ERROR") -> ApiError:
    """A malformed composite-family request. Wording UNCONFIRMED unless a caller
    cites better."""
    return ApiError.one(400, error_code, message)


def halted(message: str) -> list[dict[str, Any]]:
    # Key order as in the doc's examples: errorCode, then message.
    return [{"errorCode": PROCESSING_HALTED, "message": message}]


def subrequest_result(reference_id: str, response: RestResponse) -> dict[str, Any]:
    """``{"body", "httpHeaders", "httpStatusCode", "referenceId"}``; no
    Content-Length in subresponses. [src: resources_composite_subrequest_result.htm]"""
    headers = {k: v for k, v in response.headers.items() if k.lower() != "content-length"}
    return {
        "body": response.body,
        "httpHeaders": headers,
        "httpStatusCode": response.status,
        "referenceId": reference_id,
    }


# --- parsing ----------------------------------------------------------------------------


def check_reference_id(value: Any, api_version: float) -> str:
    if not isinstance(value, str) or not value:
        raise bad_request("referenceId is required for each subrequest")
    if REFERENCE_ID.fullmatch(value) is None and api_version >= STRICT_REFERENCE_ID_VERSION:
        # Documented body. [src: requests_composite.htm, v52.0 and later example]
        raise bad_request(
            f"Provided referenceId ('{value}') must start with a letter or a number, "
            "and it can contain only letters, numbers and underscores ('_')."
        )
    return value


def check_headers(value: Any) -> dict[str, str]:
    if value is None:
        return {}
    if not isinstance(value, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in value.items()
    ):
        raise bad_request("httpHeaders must be a map of header names to string values")
    for name in value:
        if name.lower() in INHERITED_HEADERS:
            # "If you do, the top-level request fails and returns an HTTP 400
            # response." [src: requests_composite.htm httpHeaders] Body UNCONFIRMED.
            raise bad_request(
                f"The {name} header can't be specified in a subrequest; it's inherited "
                "from the top-level request.",
                "INVALID_HEADER_TYPE",
            )
    return dict(value)


def parse_subrequest(raw: Any, api_version: float, methods: Sequence[str]) -> Subrequest:
    if not isinstance(raw, dict):
        raise bad_request("Each subrequest must be a JSON object")
    method = raw.get("method")
    if not isinstance(method, str) or method not in methods:
        # The method is one of a case-sensitive set. [src: requests_composite.htm]
        raise bad_request(
            f"Invalid method {method!r} in subrequest: must be one of {', '.join(methods)}"
        )
    url = raw.get("url")
    if not isinstance(url, str):
        raise bad_request("url is required for each subrequest")
    try:
        split_url(url)
    except ApiError:
        # "The URL must start with /services/data/vXX.X/." [src: requests_composite.htm]
        raise bad_request(f"The url {url!r} must start with /services/data/vXX.X/") from None
    return Subrequest(
        method=method,
        url=url,
        reference_id=check_reference_id(raw.get("referenceId"), api_version),
        body=raw.get("body"),
        has_body="body" in raw,
        headers=check_headers(raw.get("httpHeaders")),
    )


def check_unique_reference_ids(subrequests: Sequence[Subrequest]) -> None:
    seen: set[str] = set()
    for sub in subrequests:
        if sub.reference_id in seen:
            raise bad_request(f"Duplicate referenceId provided in the request: {sub.reference_id}")
        seen.add(sub.reference_id)


def is_query(resource: str) -> bool:
    head = resource.split("/", 1)[0]
    return head in ("query", "queryAll")


def is_collections(resource: str) -> bool:
    return resource == "composite/sobjects" or resource.startswith("composite/sobjects/")


def _check_supported(sub: Subrequest) -> None:
    """sObject resources, Query, QueryAll (and their More) and sObject Collections
    (v43.0+). [src: resources_composite_composite_post.htm]"""
    resource = sub.resource
    head = resource.split("/", 1)[0]
    supported = head == "sobjects" or is_query(resource)
    if is_collections(resource):
        supported = sub.version >= COLLECTIONS_IN_COMPOSITE_VERSION
    if not supported:
        raise bad_request(f"The resource {sub.url!r} isn't supported in a composite request")


# --- execution -------------------------------------------------------------------------


def _collections_failed(response: RestResponse) -> bool:
    body = response.body
    return isinstance(body, list) and any(
        isinstance(item, dict) and item.get("success") is False for item in body
    )


def failed(sub: Subrequest, response: RestResponse) -> bool:
    """Whether ``response`` makes an all-or-none transaction roll back."""
    if response.status >= 400:
        return True
    return is_collections(sub.resource) and _collections_failed(response)


def _all_or_none_collections(method: str, url: str, body: Any) -> tuple[str, Any]:
    """Force allOrNone on an sObject Collections subrequest (the composite's
    allOrNone=true overrides it). [src: resources_composite_allornone.htm]"""
    if method == "DELETE":
        base, _, query = url.partition("?")
        params = [p for p in query.split("&") if p and not p.lower().startswith("allornone=")]
        return base + "?" + "&".join([*params, "allOrNone=true"]), body
    if isinstance(body, dict):
        return url, {**body, "allOrNone": True}
    return url, body


async def run_one(
    request: RestRequest,
    sub: Subrequest,
    responses: Mapping[str, Any],
    *,
    all_or_none: bool,
) -> RestResponse:
    """Resolve the references of ``sub`` against earlier ``responses`` and execute
    it; an unresolved reference answers 400 PROCESSING_HALTED without executing."""
    try:
        url = resolve_url(sub.url, responses, request.api_version)
        body = resolve(sub.body, responses, request.api_version)
    except UnresolvedReference as error:
        return RestResponse(400, halted(str(error)))
    if all_or_none and is_collections(sub.resource):
        url, body = _all_or_none_collections(sub.method, url, body)
    return await dispatch(
        request.org,
        request.principal,
        sub.method,
        url,
        body if sub.has_body else None,
        headers=sub.headers,
    )


@dataclass
class Outcome:
    results: list[dict[str, Any]]
    succeeded: bool


async def run_transaction(request: RestRequest, subrequests: Sequence[Subrequest]) -> Outcome:
    """All-or-none: stop at the first failure, roll the org back, and answer
    PROCESSING_HALTED for every other subrequest. (Composite with allOrNone=true,
    and each graph.)"""
    org = request.org
    snapshot = org.snapshot()
    responses: dict[str, Any] = {}
    results: list[dict[str, Any]] = []
    for index, sub in enumerate(subrequests):
        try:
            response = await run_one(request, sub, responses, all_or_none=True)
        except BaseException:
            # Whatever fails the request as a whole leaves nothing of it written.
            org.restore(snapshot)
            raise
        responses[sub.reference_id] = response.body
        if failed(sub, response):
            org.restore(snapshot)
            rolled_back = RestResponse(400, halted(ROLLED_BACK_MESSAGE))
            results = [
                subrequest_result(other.reference_id, response if i == index else rolled_back)
                for i, other in enumerate(subrequests)
            ]
            return Outcome(results, succeeded=False)
        results.append(subrequest_result(sub.reference_id, response))
    return Outcome(results, succeeded=True)


async def run_independent(request: RestRequest, subrequests: Sequence[Subrequest]) -> Outcome:
    """allOrNone=false: every subrequest runs; a dependent of a failed one fails on
    its reference."""
    responses: dict[str, Any] = {}
    results: list[dict[str, Any]] = []
    succeeded = True
    for sub in subrequests:
        response = await run_one(request, sub, responses, all_or_none=False)
        responses[sub.reference_id] = response.body
        succeeded = succeeded and not failed(sub, response)
        results.append(subrequest_result(sub.reference_id, response))
    return Outcome(results, succeeded)


# --- the resource ----------------------------------------------------------------------


def _limit_exceeded() -> RestResponse:
    # Recorded from a real org (guardian/support-service-lambdas PR #766): one
    # compositeResponse item, referenceId null. Top-level status 400 (UNCONFIRMED).
    item = {
        "body": [
            {
                "errorCode": "LIMIT_EXCEEDED",
                "message": "The request can’t contain more than 25 operations.",
            }
        ],
        "httpHeaders": {},
        "httpStatusCode": 400,
        "referenceId": None,
    }
    return RestResponse(400, {"compositeResponse": [item]})


def parse_composite(request: RestRequest) -> tuple[bool, list[Subrequest]]:
    body = request.body
    if not isinstance(body, dict):
        raise bad_request("The composite request body must be a JSON object")
    all_or_none = body.get("allOrNone", False)
    collate = body.get("collateSubrequests", True)
    if not isinstance(all_or_none, bool) or not isinstance(collate, bool):
        raise bad_request("allOrNone and collateSubrequests must be true or false")
    raw = body.get("compositeRequest")
    if not isinstance(raw, list) or not raw:
        raise bad_request("compositeRequest is required and must list the subrequests")
    subrequests = [parse_subrequest(item, request.api_version, COMPOSITE_METHODS) for item in raw]
    check_unique_reference_ids(subrequests)
    for sub in subrequests:
        _check_supported(sub)
    heavy = sum(1 for sub in subrequests if is_query(sub.resource) or is_collections(sub.resource))
    if heavy > MAX_QUERY_OR_COLLECTIONS:
        # Limit documented; wording UNCONFIRMED (shaped like the 25-subrequest one).
        raise bad_request(
            "The request can’t contain more than 5 query or sObject Collections operations.",
            "LIMIT_EXCEEDED",
        )
    return all_or_none, subrequests


async def composite(request: RestRequest) -> RestResponse:
    raw = request.body.get("compositeRequest") if isinstance(request.body, dict) else None
    if isinstance(raw, list) and len(raw) > MAX_SUBREQUESTS:
        return _limit_exceeded()
    all_or_none, subrequests = parse_composite(request)
    if all_or_none:
        outcome = await run_transaction(request, subrequests)
    else:
        outcome = await run_independent(request, subrequests)
    return RestResponse(200, {"compositeResponse": outcome.results})


async def list_resources(request: RestRequest) -> RestResponse:
    """``GET /composite``: the other composite resources the emulator serves
    (Composite Batch is not emulated, so it isn't listed).
    [src: resources_composite_composite_get.htm]"""
    body = {name: request.url_for(f"composite/{name}") for name in ("tree", "sobjects", "graph")}
    return RestResponse(200, body)


def dependencies(sub: Subrequest) -> set[str]:
    """The referenceIds ``sub`` uses in its url or body."""
    return referenced_ids(sub.url) | referenced_ids(sub.body)


ROUTES = [Route.of("composite", GET=list_resources, POST=composite)]
