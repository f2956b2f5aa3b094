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
an idle plugin adds no latency.

Limits of one payload [src: api_rest resources_composite_graph_limits.htm
"Composite Graph Limits"]: 75 graphs; 500 nodes; 15 different nodes (API
version, HTTP method, object type: ours are at most three, PATCH Case, POST
CaseComment and PATCH Case by Id). A batch takes what fits; the rest waits for
the next one.

Graph nodes are record operations only, so the Contact lookup cannot ride in a
graph. A handoff that waits and needs one looks its Contact up while it waits:
the lookups group-commit the same way (one query in flight, for every Contact
asked for meanwhile: ``Email IN (...)``), and the match goes into its graph's
Case (``ContactId``). So a batch costs one graph call, plus about one query when
its people are new, and that query overlaps the graph in flight.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Coroutine
from dataclasses import dataclass, field
from typing import Any

from opencx_salesforce.cases import plan
from opencx_salesforce.models import Contact
from opencx_salesforce.salesforce import subrequests
from opencx_salesforce.salesforce.client import SalesforceClient
from opencx_salesforce.salesforce.errors import (
    GraphHalted,
    SalesforceError,
    error_for_response,
)
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
# Contacts asked for in one query: their emails and phones in ``IN`` lists keep
# the query's URL well under the REST API's URI length limit.
LOOKUP_MAX_CONTACTS = 50


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


@dataclass(frozen=True)
class _Match:
    contact_id: str | None  # None: no Contact matched


@dataclass
class _Waiting:
    send: HandoffSend
    future: asyncio.Future[list[SubResponse]] = field(repr=False)
    # The lookup's answer; None when it failed (no link now, tried next time).
    match: _Match | None = None
    ready: bool = True  # False while its Contact lookup is in flight
    looked_up: bool = False  # its lookup was started (it goes as a graph)


@dataclass
class BatchStats:
    requests: int = 0  # API calls made for handoffs (graphs, composites, lookups)
    handoffs: int = 0
    batches: int = 0  # composite graph requests


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
        self._lookups = _Lookups(client, self.stats)

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
        if len(self._waiting) > 1:
            # A batch is forming: look its people up while they wait for the
            # line. (One handoff waiting alone goes as its composite, lookup
            # included: one call.)
            for waiting in self._waiting:
                if waiting.send.lookup is not None and not waiting.looked_up:
                    waiting.looked_up, waiting.ready = True, False
                    answer = self._lookups.submit(waiting.send.lookup)
                    self._spawn(self._look_up(waiting, answer))
            self._lookups.kick()  # all of them in one query
        self._flush_if_due()
        return await future

    async def _look_up(self, waiting: _Waiting, answer: asyncio.Future[_Match | None]) -> None:
        waiting.match = await answer
        waiting.ready = True
        self._flush_if_due()

    def _spawn(self, work: Coroutine[Any, Any, None]) -> None:
        task = asyncio.create_task(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

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
        # A handoff whose job was cancelled while it waited goes nowhere.
        self._waiting = [w for w in self._waiting if not w.future.done()]
        while self._in_flight == 0 or self._full():
            batch = self._take()
            if not batch:
                return
            self._in_flight += 1
            self._spawn(self._send_batch(batch))

    def _full(self) -> bool:
        ready = [w for w in self._waiting if w.ready]
        nodes = sum(w.send.nodes for w in ready)
        return len(ready) >= self._max_graphs or nodes >= self._max_nodes

    def _take(self) -> list[_Waiting]:
        """The ready handoffs that fit in one payload, oldest first."""
        batch: list[_Waiting] = []
        nodes = 0
        for waiting in self._waiting:
            if not waiting.ready:
                continue
            if len(batch) == self._max_graphs or (
                batch and nodes + waiting.send.nodes > self._max_nodes
            ):
                break
            batch.append(waiting)
            nodes += waiting.send.nodes
        taken = {id(w) for w in batch}
        self._waiting = [w for w in self._waiting if id(w) not in taken]
        return batch

    async def _send_batch(self, batch: list[_Waiting]) -> None:
        try:
            if len(batch) == 1 and not batch[0].looked_up:
                self.stats.requests += 1
                answer = await self._client.composite(batch[0].send.composite, all_or_none=False)
                _settle(batch[0], answer)
            else:
                await self._send_graphs(batch)
        except Exception as exc:  # the request as a whole failed: every handoff in it did
            for waiting in batch:
                if not waiting.future.done():
                    waiting.future.set_exception(exc)
        finally:
            self._in_flight -= 1
            self._flush_if_due()

    async def _send_graphs(self, batch: list[_Waiting]) -> None:
        graphs = [Graph(f"h{n}", _with_contact(w.send, w.match)) for n, w in enumerate(batch)]
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
                waiting.future.set_exception(graph_error(result))
            else:
                waiting.future.set_result(_as_composite(waiting.send, result, waiting.match))


class _Lookups:
    """Contact lookups, group-committed: the first goes at once, those asked for
    while a query is in flight go together in the next one."""

    def __init__(self, client: SalesforceClient, stats: BatchStats) -> None:
        self._client = client
        self._stats = stats
        self._busy = False
        self._waiting: list[tuple[Contact, asyncio.Future[_Match | None]]] = []
        self._tasks: set[asyncio.Task[None]] = set()

    def submit(self, contact: Contact) -> asyncio.Future[_Match | None]:
        """Ask for ``contact``'s Contact; it is looked up at the next :meth:`kick`
        that finds no query in flight."""
        future: asyncio.Future[_Match | None] = asyncio.get_running_loop().create_future()
        self._waiting.append((contact, future))
        return future

    def kick(self) -> None:
        if self._busy or not self._waiting:
            return
        batch = self._waiting[:LOOKUP_MAX_CONTACTS]
        del self._waiting[:LOOKUP_MAX_CONTACTS]
        self._busy = True
        task = asyncio.create_task(self._run(batch), name="contact-lookups")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _run(self, batch: list[tuple[Contact, asyncio.Future[_Match | None]]]) -> None:
        answers: list[_Match | None] = [None] * len(batch)
        try:
            self._stats.requests += 1
            query = plan.contacts_query([contact for contact, _ in batch])
            records = await self._client.query_records(query)
            answers = [_Match(plan.match_contact(contact, records)) for contact, _ in batch]
        except Exception as exc:
            # As a lone handoff's failed lookup: no link now, tried next time.
            log.warning("Contact lookup for %d handoffs failed: %s", len(batch), exc)
        finally:
            self._busy = False
            for (_, future), answer in zip(batch, answers, strict=True):
                if not future.done():
                    future.set_result(answer)
            self.kick()


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


def graph_error(result: GraphResult) -> SalesforceError:
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
    # Every node only halted: the graph never ran, halted by other graphs' failures.
    first = next((r for r in result.responses if not r.ok), None)
    return GraphHalted(
        "Salesforce halted this graph: too many other graphs of its request failed",
        url="composite/graph",
        status=first.status if first is not None else None,
        error_code=_HALTED,
        body=first.body if first is not None else None,
    )


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
