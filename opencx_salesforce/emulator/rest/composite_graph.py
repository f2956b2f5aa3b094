"""Composite Graph: ``POST /services/data/vXX.X/composite/graph`` (v50.0+).

``{"graphs": [{"graphId", "compositeRequest": [node, ...]}]}`` answers 200
``{"graphs": [{"graphId", "graphResponse": {"compositeResponse": [...]},
"isSuccessful"}]}``. Each graph is its own all-or-nothing transaction: a failing
node rolls back only its graph, whose other nodes answer PROCESSING_HALTED; other
graphs are untouched. References work within a graph only. The call counts as one
API request. [src: api_rest resources_composite_graph.htm;
resources_composite_graph_introduction.htm "Using Composite Graphs"; SALESFORCE.md §3]

Nodes are limited to record operations — a query is not a node:
``POST /sobjects/{SObject}``; ``DELETE|GET|PATCH /sobjects/{SObject}/{id}``;
``DELETE|GET|PATCH|POST /sobjects/{SObject}/{field}/{externalId}``, each at v50.0
or later. [src: resources_composite_graph_composite_subrequest.htm url, method]

Limits [src: resources_composite_graph_limits.htm "Composite Graph Limits"]: 75
graphs per payload; depth 15; 500 nodes per graph and 500 per payload; 15
different nodes per payload (different API version, HTTP method or object type);
when graph failures exceed 14 the remaining graphs are halted. Exceeding a payload
limit is answered 400 before anything runs; the documents give no body, so the
messages here are UNCONFIRMED.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from opencx_salesforce.emulator.rest.composite import (
    Subrequest,
    bad_request,
    check_unique_reference_ids,
    dependencies,
    halted,
    parse_subrequest,
    run_transaction,
    subrequest_result,
)
from opencx_salesforce.emulator.rest.dispatch import RestRequest, RestResponse, Route
from opencx_salesforce.emulator.rest.errors import ApiError, not_found

GRAPH_MIN_VERSION = 50.0
MAX_GRAPHS = 75
MAX_DEPTH = 15
MAX_NODES_PER_GRAPH = 500
MAX_NODES_PER_PAYLOAD = 500
MAX_DIFFERENT_NODES = 15
MAX_GRAPH_FAILURES = 14
GRAPH_METHODS = ("DELETE", "GET", "PATCH", "POST")
# "graphId ... must begin with an alphanumeric character" and be unique in the
# request. [src: resources_composite_graph_introduction.htm]
GRAPH_ID = re.compile(r"[A-Za-z0-9]")

# Methods allowed per node shape: segments after "sobjects/".
_METHODS_BY_SHAPE = {
    1: {"POST"},
    2: {"DELETE", "GET", "PATCH"},
    3: {"DELETE", "GET", "PATCH", "POST"},
}
# Second segments that are sub-resources of an object, not record Ids.
_NOT_RECORDS = frozenset({"describe", "updated", "deleted", "listviews", "quickactions"})

# The limit and the PROCESSING_HALTED code are documented; the wording is UNCONFIRMED.
HALTED_GRAPH_MESSAGE = (
    "Processing halted because the number of failed graphs exceeded the limit of 14."
)


def _limit(message: str) -> ApiError:
    return bad_request(message, "LIMIT_EXCEEDED")


@dataclass(frozen=True)
class Graph:
    graph_id: str
    nodes: list[Subrequest]


def node_object(node: Subrequest) -> str:
    """The sObject a valid node works on (lower-cased: API names are
    case-insensitive)."""
    return node.resource.split("/")[1].lower()


def check_node(node: Subrequest) -> None:
    parts = node.resource.split("/")
    shape = min(len(parts) - 1, 3)
    allowed = _METHODS_BY_SHAPE.get(shape, set())
    is_record_node = (
        parts[0] == "sobjects"
        and shape >= 1
        and all(parts[1:])
        and not (shape == 2 and parts[2].lower() in _NOT_RECORDS)
    )
    if not is_record_node or node.method not in allowed:
        raise bad_request(
            f"{node.method} {node.url} isn't supported in a composite graph: nodes are "
            "sObject create, retrieve, update, delete and upsert requests.",
            "INVALID_INPUT",
        )
    if node.version < GRAPH_MIN_VERSION:
        raise bad_request(
            f"The url {node.url} must use API version {GRAPH_MIN_VERSION} or later.",
            "INVALID_INPUT",
        )


def graph_depth(nodes: Sequence[Subrequest]) -> int:
    """The longest chain of references in a graph, counted in nodes (a graph of
    independent nodes has depth 1)."""
    depth: dict[str, int] = {}
    for node in nodes:
        parents = [depth[ref] for ref in dependencies(node) if ref in depth]
        depth[node.reference_id] = 1 + max(parents, default=0)
    return max(depth.values(), default=0)


def parse_graphs(request: RestRequest) -> list[Graph]:
    body = request.body
    raw_graphs = body.get("graphs") if isinstance(body, dict) else None
    if not isinstance(raw_graphs, list) or not raw_graphs:
        raise bad_request("The request body must contain a non-empty graphs array")
    if len(raw_graphs) > MAX_GRAPHS:
        raise _limit(f"The request can't contain more than {MAX_GRAPHS} graphs.")
    graphs: list[Graph] = []
    seen: set[str] = set()
    for raw in raw_graphs:
        graph_id = raw.get("graphId") if isinstance(raw, dict) else None
        if not isinstance(graph_id, str) or GRAPH_ID.match(graph_id) is None:
            raise bad_request("Each graph needs a graphId that begins with a letter or a number")
        if graph_id in seen:
            raise bad_request(f"Duplicate graphId provided in the request: {graph_id}")
        seen.add(graph_id)
        raw_nodes = raw.get("compositeRequest")
        if not isinstance(raw_nodes, list) or not raw_nodes:
            raise bad_request(f"Graph {graph_id} must list its nodes in compositeRequest")
        if len(raw_nodes) > MAX_NODES_PER_GRAPH:
            raise _limit(f"Graph {graph_id} can't contain more than {MAX_NODES_PER_GRAPH} nodes.")
        nodes = [parse_subrequest(item, request.api_version, GRAPH_METHODS) for item in raw_nodes]
        check_unique_reference_ids(nodes)
        for node in nodes:
            check_node(node)
        if graph_depth(nodes) > MAX_DEPTH:
            raise _limit(f"Graph {graph_id} is deeper than the maximum depth of {MAX_DEPTH}.")
        graphs.append(Graph(graph_id, nodes))
    total = sum(len(graph.nodes) for graph in graphs)
    if total > MAX_NODES_PER_PAYLOAD:
        raise _limit(f"The request can't contain more than {MAX_NODES_PER_PAYLOAD} nodes.")
    kinds = {
        (node.version, node.method, node_object(node)) for graph in graphs for node in graph.nodes
    }
    if len(kinds) > MAX_DIFFERENT_NODES:
        raise _limit(
            f"The request can't contain more than {MAX_DIFFERENT_NODES} different nodes "
            "(nodes differ by API version, HTTP method or object type)."
        )
    return graphs


def _halted_graph(graph: Graph) -> dict[str, Any]:
    response = RestResponse(400, halted(HALTED_GRAPH_MESSAGE))
    results = [subrequest_result(node.reference_id, response) for node in graph.nodes]
    return _graph_result(graph, results, succeeded=False)


def _graph_result(
    graph: Graph, results: list[dict[str, Any]], *, succeeded: bool
) -> dict[str, Any]:
    return {
        "graphId": graph.graph_id,
        "graphResponse": {"compositeResponse": results},
        "isSuccessful": succeeded,
    }


async def composite_graph(request: RestRequest) -> RestResponse:
    if request.api_version < GRAPH_MIN_VERSION:
        raise not_found()
    graphs = parse_graphs(request)
    answers: list[dict[str, Any]] = []
    failures = 0
    for graph in graphs:
        if failures > MAX_GRAPH_FAILURES:
            answers.append(_halted_graph(graph))
            continue
        outcome = await run_transaction(request, graph.nodes)
        failures += 0 if outcome.succeeded else 1
        answers.append(_graph_result(graph, outcome.results, succeeded=outcome.succeeded))
    return RestResponse(200, {"graphs": answers})


ROUTES = [Route.of("composite/graph", POST=composite_graph)]
