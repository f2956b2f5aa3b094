"""POST /composite/graph over HTTP.

Docs followed: api_rest resources_composite_graph.htm, resources_composite_graph_
introduction.htm ("Using Composite Graphs"), resources_composite_graph_composite_
subrequest.htm, resources_composite_graph_limits.htm ("Composite Graph Limits");
SALESFORCE.md §3.
"""

from __future__ import annotations

from typing import Any

from composite_support import api_calls, comment, live, sub
from emulator_support import RestCaller

ROLLED_BACK = [
    {
        "errorCode": "PROCESSING_HALTED",
        "message": "The transaction was rolled back since another operation in the same "
        "transaction failed.",
    }
]


def case_graph(graph_id: str, comments: int = 1, *, bad: bool = False) -> dict[str, Any]:
    """A Case and its comments; ``bad`` makes the last comment too long (4,000
    bytes max)."""
    nodes = [sub("POST", "sobjects/Case", "refCase", {"Subject": f"graph {graph_id}"})]
    for n in range(comments):
        text = "x" * 4001 if bad and n == comments - 1 else f"{graph_id}-{n}"
        nodes.append(
            sub("POST", "sobjects/CaseComment", f"refC{n}", comment("@{refCase.id}", text))
        )
    return {"graphId": graph_id, "compositeRequest": nodes}


async def test_graphs_succeed_in_one_api_call(rest: RestCaller) -> None:
    """resources_composite_graph.htm: the response lists each graph with its
    graphResponse.compositeResponse and isSuccessful; one API call."""
    before = api_calls(rest.org)
    reply = await rest.post("composite/graph", {"graphs": [case_graph("1", 3), case_graph("2", 2)]})
    assert api_calls(rest.org) == before + 1
    assert reply.status == 200
    graphs = reply.body["graphs"]
    assert [graph["graphId"] for graph in graphs] == ["1", "2"]
    assert all(graph["isSuccessful"] for graph in graphs)
    first = graphs[0]["graphResponse"]["compositeResponse"]
    assert [item["referenceId"] for item in first] == ["refCase", "refC0", "refC1", "refC2"]
    assert all(item["httpStatusCode"] == 201 for item in first)
    case_id = first[0]["body"]["id"]
    assert len([c for c in live(rest.org, "CaseComment") if c["ParentId"] == case_id]) == 3
    assert len(live(rest.org, "Case")) == 2


async def test_a_failing_graph_rolls_back_only_itself(rest: RestCaller) -> None:
    """resources_composite_graph_introduction.htm: each graph is all-or-nothing; a
    failed graph doesn't affect the others."""
    reply = await rest.post(
        "composite/graph",
        {"graphs": [case_graph("ok", 2), case_graph("broken", 3, bad=True), case_graph("ok2")]},
    )
    assert reply.status == 200
    ok, broken, ok2 = reply.body["graphs"]
    assert ok["isSuccessful"] and ok2["isSuccessful"]
    assert broken["isSuccessful"] is False
    nodes = {item["referenceId"]: item for item in broken["graphResponse"]["compositeResponse"]}
    assert nodes["refC2"]["httpStatusCode"] == 400
    assert nodes["refC2"]["body"][0]["errorCode"] == "STRING_TOO_LONG"
    for ref in ("refCase", "refC0", "refC1"):
        assert nodes[ref]["httpStatusCode"] == 400 and nodes[ref]["body"] == ROLLED_BACK
    assert sorted(case["Subject"] for case in live(rest.org, "Case")) == ["graph ok", "graph ok2"]
    assert len(live(rest.org, "CaseComment")) == 3


async def test_references_stay_inside_their_graph(rest: RestCaller) -> None:
    """resources_composite_graph_introduction.htm: nodes reference nodes of their own
    graph; another graph's referenceId resolves to nothing."""
    other = {
        "graphId": "g2",
        "compositeRequest": [
            sub("POST", "sobjects/CaseComment", "refNote", comment("@{refCase.id}", "x"))
        ],
    }
    reply = await rest.post("composite/graph", {"graphs": [case_graph("g1"), other]})
    first, second = reply.body["graphs"]
    assert first["isSuccessful"] and second["isSuccessful"] is False
    body = second["graphResponse"]["compositeResponse"][0]["body"]
    assert body[0]["errorCode"] == "PROCESSING_HALTED"
    assert "No value for refCase.id found in refCase" in body[0]["message"]


async def test_upsert_node_by_external_id(rest: RestCaller) -> None:
    """resources_composite_graph_composite_subrequest.htm: PATCH on
    /sobjects/{SObject}/{field}/{externalId} upserts."""
    graph = {
        "graphId": "g",
        "compositeRequest": [
            sub("PATCH", "sobjects/Case/OpenCX_Session_Id__c/sess-1", "refCase", {"Subject": "A"}),
            sub("POST", "sobjects/CaseComment", "refNote", comment("@{refCase.id}", "hello")),
        ],
    }
    first = await rest.post("composite/graph", {"graphs": [graph]})
    assert first.body["graphs"][0]["isSuccessful"]
    again = await rest.post("composite/graph", {"graphs": [graph]})
    node = again.body["graphs"][0]["graphResponse"]["compositeResponse"][0]
    assert node["httpStatusCode"] == 200 and node["body"]["created"] is False
    assert len(live(rest.org, "Case")) == 1 and len(live(rest.org, "CaseComment")) == 2


async def test_query_node_is_not_allowed(rest: RestCaller) -> None:
    """resources_composite_graph_introduction.htm: "Composite graph requests support
    only these URLs" — sObject create, rows and rows by external ID; no query."""
    graph = {
        "graphId": "g",
        "compositeRequest": [
            sub("POST", "sobjects/Case", "refCase", {"Subject": "A"}),
            sub("GET", "query?q=SELECT+Id+FROM+Case", "refQuery"),
        ],
    }
    reply = await rest.post("composite/graph", {"graphs": [graph]})
    assert reply.status == 400
    assert live(rest.org, "Case") == []
    for bad in (
        sub("POST", "composite/sobjects", "r", {"records": []}),
        sub("GET", "sobjects/Case/describe", "r"),
        sub("PATCH", "sobjects/Case", "r", {"Subject": "A"}),
        sub("POST", "sobjects/Case", "r", {"Subject": "A"}, version="49.0"),
    ):
        reply = await rest.post(
            "composite/graph", {"graphs": [{"graphId": "g", "compositeRequest": [bad]}]}
        )
        assert reply.status == 400, bad


async def test_graph_ids_are_unique(rest: RestCaller) -> None:
    """resources_composite_graph_introduction.htm: a graphId must be unique in the
    request and begin with an alphanumeric character."""
    reply = await rest.post("composite/graph", {"graphs": [case_graph("same"), case_graph("same")]})
    assert reply.status == 400
    reply = await rest.post("composite/graph", {"graphs": [case_graph("_x")]})
    assert reply.status == 400
    assert live(rest.org, "Case") == []


async def test_graph_needs_v50(rest: RestCaller) -> None:
    """resources_composite_graph.htm: available in API version 50.0 and later."""
    reply = await rest.post("/services/data/v49.0/composite/graph", {"graphs": [case_graph("g")]})
    assert reply.status == 404


async def test_more_than_75_graphs_is_rejected(rest: RestCaller) -> None:
    """resources_composite_graph_limits.htm: at most 75 graphs in one payload."""
    graphs = [
        {
            "graphId": f"g{n}",
            "compositeRequest": [sub("POST", "sobjects/Case", "c", {"Subject": "x"})],
        }
        for n in range(76)
    ]
    reply = await rest.post("composite/graph", {"graphs": graphs})
    assert reply.status == 400
    assert reply.body[0]["errorCode"] == "LIMIT_EXCEEDED"
    accepted = await rest.post("composite/graph", {"graphs": graphs[:75]})
    assert accepted.status == 200 and len(live(rest.org, "Case")) == 75


async def test_more_than_500_nodes_in_a_graph_is_rejected(rest: RestCaller) -> None:
    """resources_composite_graph_limits.htm: at most 500 nodes in one graph."""
    reply = await rest.post("composite/graph", {"graphs": [case_graph("big", 500)]})
    assert reply.status == 400
    assert reply.body[0]["errorCode"] == "LIMIT_EXCEEDED"
    assert live(rest.org, "Case") == []
    accepted = await rest.post("composite/graph", {"graphs": [case_graph("big", 499)]})
    assert accepted.body["graphs"][0]["isSuccessful"]
    assert len(live(rest.org, "CaseComment")) == 499


async def test_more_than_500_nodes_in_a_payload_is_rejected(rest: RestCaller) -> None:
    """resources_composite_graph_limits.htm: at most 500 nodes in one payload ("one
    graph with 500 nodes, or 50 graphs with 10 nodes each")."""
    graphs = [case_graph(f"g{n}", 9) for n in range(50)]  # 50 x 10 = 500
    assert (await rest.post("composite/graph", {"graphs": graphs})).status == 200
    reply = await rest.post("composite/graph", {"graphs": [*graphs, case_graph("one-more", 0)]})
    assert reply.status == 400
    assert reply.body[0]["errorCode"] == "LIMIT_EXCEEDED"
    assert len(live(rest.org, "Case")) == 50


async def test_deeper_than_15_is_rejected(rest: RestCaller) -> None:
    """resources_composite_graph_limits.htm: maximum depth of a graph 15 (here a chain
    of child Cases, each referencing the one before)."""

    def chain(length: int) -> dict[str, Any]:
        nodes = [sub("POST", "sobjects/Case", "n0", {"Subject": "0"})]
        for n in range(1, length):
            body = {"Subject": f"{n}", "ParentId": f"@{{n{n - 1}.id}}"}
            nodes.append(sub("POST", "sobjects/Case", f"n{n}", body))
        return {"graphId": "chain", "compositeRequest": nodes}

    reply = await rest.post("composite/graph", {"graphs": [chain(16)]})
    assert reply.status == 400
    assert reply.body[0]["errorCode"] == "LIMIT_EXCEEDED"
    assert live(rest.org, "Case") == []
    accepted = await rest.post("composite/graph", {"graphs": [chain(15)]})
    assert accepted.body["graphs"][0]["isSuccessful"]
    assert len(live(rest.org, "Case")) == 15


async def test_more_than_15_different_nodes_is_rejected(rest: RestCaller) -> None:
    """resources_composite_graph_limits.htm: at most 15 different nodes per payload;
    nodes differ by API version, HTTP method or object type (here: 16 versions)."""

    def nodes(versions: range) -> list[dict[str, Any]]:
        return [
            sub("POST", "sobjects/Case", f"v{v}", {"Subject": "x"}, version=f"{v}.0")
            for v in versions
        ]

    reply = await rest.post(
        "composite/graph", {"graphs": [{"graphId": "g", "compositeRequest": nodes(range(50, 66))}]}
    )
    assert reply.status == 400
    assert reply.body[0]["errorCode"] == "LIMIT_EXCEEDED"
    assert live(rest.org, "Case") == []
    accepted = await rest.post(
        "composite/graph", {"graphs": [{"graphId": "g", "compositeRequest": nodes(range(50, 65))}]}
    )
    assert accepted.body["graphs"][0]["isSuccessful"]


async def test_after_14_failed_graphs_the_rest_are_halted(rest: RestCaller) -> None:
    """resources_composite_graph_limits.htm: "if the number of graph failures exceeds
    the maximum limit of 14, processing is halted for the remaining graphs" and
    their status is PROCESSING_HALTED."""
    graphs = [case_graph(f"bad{n}", 1, bad=True) for n in range(15)] + [case_graph("late")]
    reply = await rest.post("composite/graph", {"graphs": graphs})
    answers = reply.body["graphs"]
    assert all(graph["isSuccessful"] is False for graph in answers)
    fifteenth = answers[14]["graphResponse"]["compositeResponse"]
    assert fifteenth[1]["body"][0]["errorCode"] == "STRING_TOO_LONG"
    late = answers[15]["graphResponse"]["compositeResponse"]
    assert all(node["body"][0]["errorCode"] == "PROCESSING_HALTED" for node in late)
    assert live(rest.org, "Case") == []


async def test_a_locked_parent_fails_only_the_graph_that_looks_up_to_it(rest: RestCaller) -> None:
    """Record Locking Cheat Sheet: a save locks the records it looks up to; one
    another transaction holds fails the save with UNABLE_TO_LOCK_ROW (a 400 that
    a client retries), and only that graph rolls back."""
    contact_id = rest.org.create("Contact", {"LastName": "Held"})
    rest.org.faults.lock_record(contact_id)
    held = case_graph("held")
    held["compositeRequest"][0]["body"]["ContactId"] = contact_id
    reply = await rest.post("composite/graph", {"graphs": [case_graph("free"), held]})
    free, locked = reply.body["graphs"]
    assert free["isSuccessful"] and locked["isSuccessful"] is False
    case_node = locked["graphResponse"]["compositeResponse"][0]
    assert case_node["body"][0]["errorCode"] == "UNABLE_TO_LOCK_ROW"
    assert [case["Subject"] for case in live(rest.org, "Case")] == ["graph free"]

    rest.org.faults.unlock_record(contact_id)
    again = await rest.post("composite/graph", {"graphs": [held]})
    assert again.body["graphs"][0]["isSuccessful"]
