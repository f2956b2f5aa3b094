"""Group commit for handoffs: under load, many handoffs share one API call.

While a handoff request to Salesforce is in flight, handoffs that become ready
wait for it, then go together: each one an independent graph of one
``composite/graph`` request. Each graph is its own all-or-nothing transaction
(a failing graph rolls back only itself and fails only its handoff, which the
outbox retries or dead-letters), and the whole request counts as one API call.
[src: api_rest resources_composite_graph_introduction.htm "Composite Graphs";
resources_composite_graph.htm]

A handoff that finds nothing in flight goes at once, alone, as the composite
request it has always been (Case upsert, comments, Contact lookup: one call), so
an idle plugin adds no latency. A batch of one does the same.

Limits of one payload [src: api_rest resources_composite_graph_limits.htm
"Composite Graph Limits"]: 75 graphs; 500 nodes; 15 different nodes (API
version, HTTP method, object type: ours are at most three, PATCH Case, POST
CaseComment and PATCH Case by Id). A batch takes what fits; the rest waits for
the next one.

Graph nodes are record operations only, so the Contact lookup cannot ride in a
graph: a batch whose handoffs need one first asks for all their Contacts in one
query and writes each match into its graph's Case (``ContactId``). That is two
calls for the whole batch.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field

from opencx_salesforce.cases import plan
from opencx_salesforce.models import Contact
from opencx_salesforce.salesforce import subrequests
from opencx_salesforce.salesforce.client import SalesforceClient
from opencx_salesforce.salesforce.errors import SalesforceError, error_for_response
from opencx_salesforce.salesforce.subrequests import (
    COLLECTIONS_MAX_RECORDS,
    GRAPH_MAX_GRAPHS,
    GRAPH_MAX_NODES,
    Graph,
    GraphResult,
    Subrequest,
    SubResponse,
)

log = logging.getLogger(__name__)

# Salesforce's code for the nodes of a graph that failed because another node of
# it did. [src: api_rest resources_composite_graph_introduction.htm, graph response]
_HALTED = "PROCESSING_HALTED"


@dataclass(frozen=True)
class HandoffSend:
    """One handoff's writes, in both shapes: ``composite`` (alone) and ``graph``
    (in a batch; ``None`` when it cannot be a graph, then it always goes alone)."""

    composite: list[Subrequest]
    graph: list[Subrequest] | None
    lookup: Contact | None = None  # a Contact to look up and link to the Case
    existing_case: str | None = None  # the Case already there (a retry's read)

    @property
    def nodes(self) -> int:
        """The nodes it takes in a payload (one more for a Contact link)."""
        return len(self.graph or ()) + (1 if self.lookup is not None else 0)


@dataclass
class _Waiting:
    send: HandoffSend
    future: asyncio.Future[list[SubResponse]] = field(repr=False)


@dataclass
class BatchStats:
    requests: int = 0  # API calls made for handoffs
    handoffs: int = 0
    batches: int = 0  # graph requests carrying two handoffs or more


class HandoffBatcher:
    """Sends handoffs, alone when the line is free, together when it is not."""

    def __init__(
        self,
        client: SalesforceClient,
        *,
        max_graphs: int = GRAPH_MAX_GRAPHS,
        max_nodes: int = GRAPH_MAX_NODES,
    ) -> None:
        self._client = client
        self._max_graphs = max_graphs
        self._max_nodes = max_nodes
        self._in_flight = 0
        self._waiting: list[_Waiting] = []
        self._tasks: set[asyncio.Task[None]] = set()
        self.stats = BatchStats()

    async def send(self, item: HandoffSend) -> list[SubResponse]:
        """The handoff's answers in the composite shape (``refCase``,
        ``refComments{n}``, ``refContact``), however it was sent. Raises the
        error of the request, or of the handoff's own graph."""
        if not item.composite:
            return []
        self.stats.handoffs += 1
        if item.graph is None or (self._in_flight == 0 and not self._waiting):
            return await self._alone(item)
        future: asyncio.Future[list[SubResponse]] = asyncio.get_running_loop().create_future()
        self._waiting.append(_Waiting(item, future))
        self._flush_if_due()
        return await future

    async def _alone(self, item: HandoffSend) -> list[SubResponse]:
        self._in_flight += 1
        try:
            self.stats.requests += 1
            return await self._client.composite(item.composite, all_or_none=False)
        finally:
            self._in_flight -= 1
            self._flush_if_due()

    def _flush_if_due(self) -> None:
        """Send what waits when the line is free, or at once when a full payload
        waits (more waiting would not make it bigger)."""
        while self._waiting and (self._in_flight == 0 or self._full()):
            batch = self._take()
            self._in_flight += 1
            task = asyncio.create_task(self._send_batch(batch), name="handoff-batch")
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    def _full(self) -> bool:
        nodes = sum(w.send.nodes for w in self._waiting)
        return len(self._waiting) >= self._max_graphs or nodes >= self._max_nodes

    def _take(self) -> list[_Waiting]:
        batch: list[_Waiting] = []
        nodes = 0
        while self._waiting and len(batch) < self._max_graphs:
            nxt = self._waiting[0]
            if nxt.future.done():  # its job was cancelled while it waited
                self._waiting.pop(0)
                continue
            if batch and nodes + nxt.send.nodes > self._max_nodes:
                break
            batch.append(self._waiting.pop(0))
            nodes += nxt.send.nodes
        return batch

    async def _send_batch(self, batch: list[_Waiting]) -> None:
        try:
            if len(batch) == 1:
                self.stats.requests += 1
                answer = await self._client.composite(batch[0].send.composite, all_or_none=False)
                _settle(batch[0], answer)
            elif batch:
                await self._send_graphs(batch)
        except Exception as exc:  # the request as a whole failed: every handoff in it did
            for waiting in batch:
                if not waiting.future.done():
                    waiting.future.set_exception(exc)
        finally:
            self._in_flight -= 1
            self._flush_if_due()

    async def _send_graphs(self, batch: list[_Waiting]) -> None:
        matches = await self._look_up(batch)
        graphs = [
            Graph(f"h{n}", _with_contact(w.send, matches.get(n))) for n, w in enumerate(batch)
        ]
        self.stats.requests += 1
        self.stats.batches += 1
        results = await self._client.composite_graph(graphs)
        by_id = {r.graph_id: r for r in results}
        for n, waiting in enumerate(batch):
            result = by_id.get(f"h{n}")
            if waiting.future.done():
                continue
            if result is None:
                waiting.future.set_exception(
                    SalesforceError("Salesforce did not answer for this handoff's graph")
                )
            elif not result.is_successful:
                waiting.future.set_exception(_graph_error(result))
            else:
                waiting.future.set_result(_as_composite(waiting.send, result, matches.get(n)))

    async def _look_up(self, batch: Sequence[_Waiting]) -> dict[int, _Match]:
        """The Contact Id of each handoff that asks for one (``None``: none
        matched), by its place in the batch; empty when the query failed (the
        handoffs go without a Contact and are looked up again next time, as a
        lone handoff's failed lookup is)."""
        asking = {n: w.send.lookup for n, w in enumerate(batch) if w.send.lookup is not None}
        if not asking:
            return {}
        contacts = list(asking.values())
        try:
            self.stats.requests += 1
            records = await self._client.query_records(plan.contacts_query(contacts))
        except SalesforceError as exc:
            log.warning("Contact lookup for a batch of handoffs failed: %s", exc)
            return {}
        return {n: _Match(plan.match_contact(c, records)) for n, c in asking.items()}


@dataclass(frozen=True)
class _Match:
    contact_id: str | None


def _settle(waiting: _Waiting, answer: list[SubResponse]) -> None:
    if not waiting.future.done():
        waiting.future.set_result(answer)


def _with_contact(item: HandoffSend, match: _Match | None) -> list[Subrequest]:
    nodes = list(item.graph or ())
    if match is None or match.contact_id is None:
        return nodes
    link = {"ContactId": match.contact_id}
    if item.existing_case is None:
        case = nodes[0]
        nodes[0] = Subrequest(
            case.method, case.url, case.reference_id, {**(case.body or {}), **link}
        )
    else:
        nodes.append(subrequests.update("Case", item.existing_case, link, ref="refLink"))
    return nodes


def _graph_error(result: GraphResult) -> SalesforceError:
    """The error of the node that failed the graph (the others only say they
    were halted because of it)."""
    for response in result.responses:
        if response.ok:
            continue
        body = response.body
        codes = (
            [e.get("errorCode") for e in body if isinstance(e, dict)]
            if isinstance(body, list)
            else []
        )
        if codes and all(code == _HALTED for code in codes):
            continue
        return error_for_response(
            url="composite/graph", status=response.status, body=body, headers=response.headers
        )
    first = next((r for r in result.responses if not r.ok), None)
    if first is None:
        return SalesforceError("the handoff's graph failed without an error", url="composite/graph")
    return error_for_response(url="composite/graph", status=first.status, body=first.body)


def _as_composite(
    item: HandoffSend, result: GraphResult, match: _Match | None
) -> list[SubResponse]:
    """A successful graph's answers as the composite request would have given them,
    so the Case service reads one shape."""
    by_ref = {r.reference_id: r for r in result.responses}
    out: list[SubResponse] = []
    if "refCase" in by_ref:
        out.append(by_ref["refCase"])
    comments = [r for r in result.responses if r.reference_id.startswith("refComment")]
    for n, start in enumerate(range(0, len(comments), COLLECTIONS_MAX_RECORDS)):
        chunk = comments[start : start + COLLECTIONS_MAX_RECORDS]
        body = [{"id": r.body.get("id"), "success": True, "errors": []} for r in chunk]
        out.append(SubResponse(f"refComments{n}", 200, body, {}))
    if item.lookup is not None:
        if match is None:  # the lookup failed: tried again next time
            out.append(SubResponse("refContact", 0, None, {}))
        else:
            records = [{"Id": match.contact_id}] if match.contact_id else []
            out.append(SubResponse("refContact", 200, {"records": records}, {}))
    return out
