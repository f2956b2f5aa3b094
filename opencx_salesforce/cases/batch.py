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
the next one. Salesforce documents no size limit for the body that we could
find, but servers and proxies on the way refuse large ones (413; aiohttp, under
the emulator, past 1 MiB): a batch also stays under :data:`PAYLOAD_BUDGET`
bytes, and a batch refused as too large (413) is sent again in halves, so a
handoff never fails for the company it kept. A batch takes at most
:data:`BATCH_GRAPHS` graphs (24), fewer than the 75 allowed: a request's
handoffs all wait for its last graph, and a batch that is full goes at once.

Graph nodes are record operations only (``sobjects/...`` URLs: no query), so
the Contact lookup cannot ride in a graph. [src: api_rest
resources_composite_graph_introduction.htm "Composite graph requests support only
these URLs"] A handoff that waits and needs one looks its Contact up while it
waits, off its critical path: the lookups group-commit the same way (a query for
every Contact asked for meanwhile: ``Email IN (...)``), overlapping the graph in
flight. When the line frees, the ready handoffs go without waiting for their
lookups: a match already known rides in its graph's Case (``ContactId``); one
known only later is linked by a PATCH of the Case that group-commits like any
handoff (:meth:`HandoffBatcher.link_contact`), before the handoff is done. A
loaded handoff so waits about two round trips (the graph in flight, its own),
as a lone one waits one.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property

from opencx_salesforce.background import Background
from opencx_salesforce.cases.in_halves import in_halves
from opencx_salesforce.cases.lookups import Lookups, Match
from opencx_salesforce.cases.plan import json_size
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

# Salesforce's code for the nodes of a graph that failed because another node of
# it did. [src: api_rest resources_composite_graph_introduction.htm, graph response]
_HALTED = "PROCESSING_HALTED"
# Bytes of JSON one batch's graphs may take (see the module docstring).
PAYLOAD_BUDGET = 800_000
# Graphs a batch takes, below Salesforce's 75: a batch goes as soon as this
# many wait, even while a request is in flight. Every handoff of a request waits
# for the server to do all its graphs, so the largest requests are not the
# fastest: at 50 ms round trip, 100 concurrent 20-message handoffs on SQLite,
# 75 graphs a request made 451-456 handoffs/s at 0.053 calls each, 40-odd
# 566-573/s at 0.055, 25 558-570/s at 0.07, 15 571-595/s at 0.093. Once the job's
# reads and its CPU shrank (get_many, head start), smaller requests won on every
# store (interleaved pairs): 40 against 24 graphs, SQLite 580-642 against
# 603-675/s, Redis 675-678 against 699-772, PostgreSQL 354-386 against 388-410,
# memory 838-861 against 1,045-1,087, at 0.05 against 0.06-0.08 calls a handoff.
BATCH_GRAPHS = 24
assert BATCH_GRAPHS <= GRAPH_MAX_GRAPHS


@dataclass(frozen=True)
class HandoffSend:
    """One handoff's writes, in both shapes: ``composite`` (alone; built only if
    it goes alone) and ``graph`` (in a batch; ``None`` when it cannot be a graph,
    then it always goes alone)."""

    composite: Callable[[], list[Subrequest]]
    graph: list[Subrequest] | None
    lookup: Contact | None = None  # a Contact to look up and link to the Case
    existing_case: str | None = None  # the Case already there (a retry's read)

    @cached_property
    def size(self) -> int:
        """About how many bytes its graph takes as JSON: counted only for a
        handoff that waits in a batch, once."""
        return json_size(self.graph or ())

    @property
    def nodes(self) -> int:
        """The nodes it takes in a payload (one more for a Contact link)."""
        return len(self.graph or ()) + (1 if self.lookup is not None else 0)


@dataclass(frozen=True)
class Sent:
    """What a handoff's request answered, in the composite shape (``refCase``,
    ``refComments{n}``, ``refContact``), and, when it went before its Contact
    lookup answered, that lookup (see :meth:`HandoffBatcher.link_contact`)."""

    responses: list[SubResponse]
    late_lookup: asyncio.Future[Match | None] | None = None


@dataclass
class _Waiting:
    send: HandoffSend
    future: asyncio.Future[Sent] = field(repr=False)
    # Its Contact lookup, once started (it then goes as a graph); the answer is
    # None when the lookup failed (no link now, tried next time).
    lookup: asyncio.Future[Match | None] | None = field(default=None, repr=False)


@dataclass
class BatchStats:
    requests: int = 0  # API calls made for handoffs (graphs, composites, lookups)
    handoffs: int = 0
    batches: int = 0  # composite graph requests
    late_links: int = 0  # Contacts linked after their handoff's graph went


class HandoffBatcher:
    """Sends handoffs, alone when the line is free, together when it is not."""

    def __init__(
        self,
        client: SalesforceClient,
        *,
        max_graphs: int = BATCH_GRAPHS,
        max_nodes: int = GRAPH_MAX_NODES,
        max_bytes: int = PAYLOAD_BUDGET,
    ) -> None:
        self._client = client
        self.max_graphs = max_graphs
        self._max_nodes = max_nodes
        self.max_bytes = max_bytes
        self._in_flight = 0
        self._waiting: list[_Waiting] = []
        # What the waiting handoffs take in a payload, kept as they come and go
        # (summed again on every arrival, a burst would cost its square).
        self._waiting_nodes = 0
        self._waiting_bytes = 0
        self._background = Background()
        self.stats = BatchStats()
        self._lookups = Lookups(client, self.stats)

    @property
    def lookups(self) -> Lookups:
        return self._lookups

    def running(self) -> bool:
        """Whether a request of its own (a batch, a lookup) is still running."""
        return self._background.running() or self._lookups.running()

    async def close(self) -> None:
        """Stop, once the handoffs that were waiting are gone (the outbox has
        stopped): nothing more is sent, and the requests in flight are
        abandoned, as a crash would. Their jobs run again at the next start,
        which reads what landed first."""
        for waiting in self._waiting:
            waiting.future.cancel()
        self._waiting.clear()
        # The lookups first, every one not answered with them (those of the
        # batches in flight too): a query ending while the batches' tasks end
        # would otherwise send the next one.
        await self._lookups.close()
        await self._background.close()

    async def send(self, item: HandoffSend) -> Sent:
        """The handoff's answers, however it was sent. Raises the error of the
        request, or of the handoff's own graph."""
        self.stats.handoffs += 1
        return await self._submit(item)

    async def _submit(self, item: HandoffSend) -> Sent:
        if item.graph is None or (self._in_flight == 0 and not self._waiting):
            composite = item.composite()
            if not composite:
                return Sent([])
            return Sent(await self._alone(composite))
        future: asyncio.Future[Sent] = asyncio.get_running_loop().create_future()
        self._waiting.append(_Waiting(item, future))
        self._waiting_nodes += item.nodes
        self._waiting_bytes += item.size
        if len(self._waiting) > 1:
            # A batch is forming: look its people up while they wait for the
            # line. (One handoff waiting alone goes as its composite, lookup
            # included: one call.) Only the first two can lack one yet.
            for waiting in self._waiting[:1] + self._waiting[-1:]:
                if waiting.send.lookup is not None and waiting.lookup is None:
                    waiting.lookup = self._lookups.submit(waiting.send.lookup)
            self._lookups.kick()  # all of them in one query
        self._flush_if_due()
        return await future

    async def link_contact(self, sent: Sent, case_id: str) -> SubResponse:
        """The Contact lookup of a handoff that went before it answered: its
        answer (as the composite's ``refContact``), the Case linked to the match
        first. The link group-commits as a graph of one node."""
        assert sent.late_lookup is not None
        match = await sent.late_lookup
        if match is None:  # the lookup failed: tried again next time
            return SubResponse("refContact", 0, None, {})
        if match.contact_id is not None:
            self.stats.late_links += 1
            link = subrequests.update(
                "Case", case_id, {"ContactId": match.contact_id}, ref="refLink"
            )
            answer = await self._submit(HandoffSend(lambda: [link], [link]))
            for response in answer.responses:
                if not response.ok:
                    raise error_for_response(
                        url=f"link Case {case_id} to its Contact",
                        status=response.status,
                        body=response.body,
                        headers=response.headers,
                    )
        records = [{"Id": match.contact_id}] if match.contact_id else []
        return SubResponse("refContact", 200, {"records": records}, {})

    async def _alone(self, composite: list[Subrequest]) -> list[SubResponse]:
        self._in_flight += 1
        try:
            self.stats.requests += 1
            return await self._client.composite(composite, all_or_none=False)
        finally:
            self._in_flight -= 1
            self._flush_if_due()

    def _flush_if_due(self) -> None:
        """Send what waits when the line is free, or at once when a full payload
        waits (more waiting would not make it bigger)."""
        # A handoff whose job was cancelled while it waited goes nowhere, and
        # its lookup, if not yet sent, is not asked for.
        if any(w.future.done() for w in self._waiting):
            for waiting in self._waiting:
                if waiting.future.done() and waiting.lookup is not None:
                    waiting.lookup.cancel()
            self._waiting = [w for w in self._waiting if not w.future.done()]
            self._waiting_nodes = sum(w.send.nodes for w in self._waiting)
            self._waiting_bytes = sum(w.send.size for w in self._waiting)
        while (self._in_flight == 0 or self._full()) and not self._background.closed:
            batch = self._take()
            if not batch:
                return
            self._in_flight += 1
            self._background.spawn(self._send_batch(batch))

    def _full(self) -> bool:
        return (
            len(self._waiting) >= self.max_graphs
            or self._waiting_nodes >= self._max_nodes
            or self._waiting_bytes >= self.max_bytes
        )

    def _take(self) -> list[_Waiting]:
        """The handoffs that fit in one payload, oldest first."""
        batch: list[_Waiting] = []
        nodes = size = 0
        for waiting in self._waiting:
            if len(batch) == self.max_graphs or (
                batch
                and (
                    nodes + waiting.send.nodes > self._max_nodes
                    or size + waiting.send.size > self.max_bytes
                )
            ):
                break
            batch.append(waiting)
            nodes += waiting.send.nodes
            size += waiting.send.size
        del self._waiting[: len(batch)]
        self._waiting_nodes -= nodes
        self._waiting_bytes -= size
        return batch

    async def _send_batch(self, batch: list[_Waiting]) -> None:
        try:
            if len(batch) == 1 and batch[0].lookup is None:
                self.stats.requests += 1
                composite = batch[0].send.composite()
                answer = await self._client.composite(composite, all_or_none=False)
                _settle(batch[0], Sent(answer))
            else:
                await in_halves(batch, self._send_graphs, _fail, "handoffs")
        except Exception as exc:  # the request as a whole failed: every handoff in it did
            for waiting in batch:
                if not waiting.future.done():
                    waiting.future.set_exception(exc)
        finally:
            self._in_flight -= 1
            self._flush_if_due()

    async def _send_graphs(self, batch: list[_Waiting]) -> None:
        # A lookup answered by now rides in its graph; the others link later.
        known = [_answer(w.lookup) for w in batch]
        graphs = [
            Graph(f"h{n}", _with_contact(w.send, match))
            for n, (w, match) in enumerate(zip(batch, known, strict=True))
        ]
        self.stats.requests += 1
        self.stats.batches += 1
        results = await self._client.composite_graph(graphs)
        by_id = {r.graph_id: r for r in results}
        for n, (waiting, match) in enumerate(zip(batch, known, strict=True)):
            result = by_id.get(f"h{n}")
            if waiting.future.done():
                continue
            if result is None:
                waiting.future.set_exception(
                    SalesforceError("Salesforce did not answer for this handoff's graph")
                )
            elif not result.is_successful:
                waiting.future.set_exception(graph_error(result))
            elif waiting.lookup is not None and match is _LATE:
                answers = _as_composite(waiting.send, result, None, with_contact=False)
                waiting.future.set_result(Sent(answers, waiting.lookup))
            else:
                answers = _as_composite(waiting.send, result, match, with_contact=True)
                waiting.future.set_result(Sent(answers))


def _fail(waiting: _Waiting, error: SalesforceError) -> None:
    if not waiting.future.done():
        waiting.future.set_exception(error)


def _settle(waiting: _Waiting, answer: Sent) -> None:
    if not waiting.future.done():
        waiting.future.set_result(answer)


# A lookup still in flight when its graph went (its answer comes later).
_LATE = Match("(late)")


def _answer(lookup: asyncio.Future[Match | None] | None) -> Match | None:
    """A started lookup's answer if it has one (None: it failed), else :data:`_LATE`;
    None for a handoff that needs no lookup."""
    if lookup is None:
        return None
    return lookup.result() if lookup.done() else _LATE


def _with_contact(item: HandoffSend, match: Match | None) -> list[Subrequest]:
    nodes = list(item.graph or ())
    if match is None or match is _LATE or match.contact_id is None:
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
    item: HandoffSend, result: GraphResult, match: Match | None, *, with_contact: bool
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
    if item.lookup is not None and with_contact:
        if match is None:  # the lookup failed: tried again next time
            out.append(SubResponse("refContact", 0, None, {}))
        else:
            records = [{"Id": match.contact_id}] if match.contact_id else []
            out.append(SubResponse("refContact", 200, {"records": records}, {}))
    return out
