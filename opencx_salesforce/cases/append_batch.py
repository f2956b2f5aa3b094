"""Group commit for appends: under load, many appends share one API call.

An append is the contact's new words on an open Case and, after them, a read of
whether the Case is closed (:func:`.plan.append_requests`): when the read says
open, the words were on the Case before any closure. A lone append goes at once
as that composite request of its own (its comments all or none).

While an append request is in flight, appends that become ready wait for it and
then go together in one composite request, not collated, so its subrequests run
in the order listed [src: api_rest requests_composite.htm collateSubrequests "If
collation is disabled, then the subrequests are executed in the order in which
they are received"]: first their comments, in sObject Collections of up to 200
records, then one query for every Case's state (``Id IN (...)``). Each append's
read still comes after its own write.

Limits of one composite request [src: api_rest resources_composite_composite_post.htm
"You can have up to 25 subrequests in a single call. Up to 5 of these subrequests
can be sObject Collections or query operations"]: four collections and the query,
so a batch takes at most 800 comments; and :data:`.batch.PAYLOAD_BUDGET` bytes.

The collections of a batch are not all-or-none: one append's refused comment
(a validation rule, say) fails that append alone, and the others land. The
refused one is retried or dead-lettered like any failed append, and its retry
reads what landed on the Case first, so nothing is written twice
(:mod:`.comments`).
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from opencx_salesforce.background import Background
from opencx_salesforce.cases import plan
from opencx_salesforce.cases.batch import PAYLOAD_BUDGET
from opencx_salesforce.cases.in_halves import in_halves
from opencx_salesforce.salesforce import subrequests
from opencx_salesforce.salesforce.client import SalesforceClient
from opencx_salesforce.salesforce.errors import SalesforceError
from opencx_salesforce.salesforce.subrequests import (
    COLLECTIONS_MAX_RECORDS,
    COMPOSITE_MAX_COLLECTIONS_OR_QUERIES,
    SubResponse,
)

# Collections a batch takes: the composite's five heavy subrequests, less the query.
BATCH_COLLECTIONS = COMPOSITE_MAX_COLLECTIONS_OR_QUERIES - 1
# Appends a batch takes, fewer than fit (each adds one Case Id to the state
# query): a batch that is full goes at once, even while one is in flight, and
# every append of a request waits for all of it. Measured at 50 ms round trip,
# 100 contacts writing again on SQLite (bench/bench_appends.py), by appends a
# request: 100: 650-700/s; 50: 815/s; 35: 785/s; 25: 870-917/s, 0.04 calls an
# append; 20: 820-890/s; 10: 910/s at 0.1 calls; one each: 790-820/s at 1 call.
BATCH_APPENDS = 25
# The part of a comment record's JSON besides its texts (its attributes, the
# field names, IsPublished), generously.
_RECORD_OVERHEAD = 140


@dataclass
class _Waiting:
    case_id: str
    records: list[dict[str, Any]]
    size: int
    future: asyncio.Future[dict[str, SubResponse]] = field(repr=False)


@dataclass
class AppendStats:
    requests: int = 0  # API calls made for appends
    appends: int = 0
    batches: int = 0  # requests that carried more than one append


class AppendBatcher:
    """Sends appends, alone when the line is free, together when it is not."""

    def __init__(
        self,
        client: SalesforceClient,
        *,
        max_appends: int = BATCH_APPENDS,
        max_bytes: int = PAYLOAD_BUDGET,
    ) -> None:
        self._client = client
        self._max_appends = max_appends
        self._max_bytes = max_bytes
        self._in_flight = 0
        self._waiting: list[_Waiting] = []
        self._background = Background()
        self.stats = AppendStats()

    def running(self) -> bool:
        """Whether a batch request is still running."""
        return self._background.running()

    async def close(self) -> None:
        """Stop, once the appends that were waiting are gone (the outbox has
        stopped): nothing more is sent; a request in flight is abandoned, as a
        crash would, and its jobs run again at the next start."""
        for waiting in self._waiting:
            waiting.future.cancel()
        self._waiting.clear()
        await self._background.close()

    async def send(self, case_id: str, records: list[dict[str, Any]]) -> dict[str, SubResponse]:
        """Write ``records`` (CaseComments of one Case, at most 200) and read the
        Case's state after them. The answers by reference, as the lone composite
        gives them: :data:`.plan.APPEND_COMMENTS_REF` (when there are records)
        and :data:`.plan.CASE_STATE_REF`."""
        if len(records) > COLLECTIONS_MAX_RECORDS:
            raise ValueError(f"an append sends at most {COLLECTIONS_MAX_RECORDS} comments at once")
        self.stats.appends += 1
        if self._in_flight == 0 and not self._waiting:
            self._in_flight += 1
            try:
                return await self._alone(case_id, records)
            finally:
                self._in_flight -= 1
                self._flush_if_due()
        future: asyncio.Future[dict[str, SubResponse]] = asyncio.get_running_loop().create_future()
        size = plan.bodies_json_size(records, _RECORD_OVERHEAD)
        self._waiting.append(_Waiting(case_id, records, size, future))
        self._flush_if_due()
        return await future

    async def _alone(self, case_id: str, records: list[dict[str, Any]]) -> dict[str, SubResponse]:
        """One append's own composite request: its comments all or none, then
        its Case's state."""
        self.stats.requests += 1
        responses = await self._client.composite(
            plan.append_requests(case_id, records), collate_subrequests=False
        )
        return {r.reference_id: r for r in responses}

    def _flush_if_due(self) -> None:
        # An append whose job was cancelled while it waited goes nowhere.
        self._waiting = [w for w in self._waiting if not w.future.done()]
        while self._waiting and not self._background.closed:
            groups = self._next_groups()
            # A free line: go. A busy one: go only when more wait than one
            # request takes (waiting longer would not make it bigger).
            if self._in_flight and sum(groups) == len(self._waiting):
                return
            batch = self._take(groups)
            self._in_flight += 1
            self._background.spawn(self._send_batch(batch))

    def _next_groups(self) -> list[int]:
        """How many of the waiting appends each collection of the next batch
        holds, oldest first (an append's comments stay in one collection)."""
        groups: list[int] = []
        records = size = 0
        for taken, waiting in enumerate(self._waiting):
            count = len(waiting.records)
            if taken == self._max_appends or (taken and size + waiting.size > self._max_bytes):
                break
            if not groups or records + count > COLLECTIONS_MAX_RECORDS:
                if len(groups) == BATCH_COLLECTIONS:
                    break
                groups.append(0)
                records = 0
            groups[-1] += 1
            records += count
            size += waiting.size
        return groups

    def _take(self, groups: list[int]) -> list[list[_Waiting]]:
        """The appends of the next request (``groups``: how many each collection
        holds, from :meth:`_next_groups`), grouped by collection."""
        batch: list[list[_Waiting]] = []
        start = 0
        for count in groups:
            batch.append(self._waiting[start : start + count])
            start += count
        del self._waiting[:start]
        return batch

    async def _send_batch(self, batch: list[list[_Waiting]]) -> None:
        appends = [w for group in batch for w in group]
        try:
            await in_halves(appends, self._send, _failed, "appends")
        except Exception as exc:  # the request as a whole failed: every append in it did
            for waiting in appends:
                if not waiting.future.done():
                    waiting.future.set_exception(exc)
        finally:
            self._in_flight -= 1
            self._flush_if_due()

    async def _send(self, appends: list[_Waiting]) -> None:
        batch = _grouped(appends)
        if len(appends) == 1:
            (waiting,) = appends
            _settle(waiting, await self._alone(waiting.case_id, waiting.records))
            return
        requests = [
            subrequests.create_records(
                [r for w in group for r in w.records],
                ref=f"{plan.APPEND_COMMENTS_REF}{n}",
                all_or_none=False,
            )
            for n, group in enumerate(batch)
            if any(w.records for w in group)
        ]
        case_ids = sorted({w.case_id for w in appends})
        requests.append(
            subrequests.query(plan.case_states_query(case_ids), ref=plan.CASE_STATE_REF)
        )
        self.stats.requests += 1
        self.stats.batches += 1
        responses = await self._client.composite(requests, collate_subrequests=False)
        by_ref = {r.reference_id: r for r in responses}
        state = by_ref.get(plan.CASE_STATE_REF)
        states = _by_case(state)
        for n, group in enumerate(batch):
            collection = by_ref.get(f"{plan.APPEND_COMMENTS_REF}{n}")
            start = 0
            for waiting in group:
                end = start + len(waiting.records)
                if waiting.records and collection is None:
                    _fail(waiting, "Salesforce did not answer for this append's comments")
                else:
                    _settle(waiting, _answer_of(waiting, collection, start, end, state, states))
                start = end


def _grouped(appends: list[_Waiting]) -> list[list[_Waiting]]:
    """``appends`` in collections of up to 200 records, in order (part of a
    batch that fitted, so it fits)."""
    groups: list[list[_Waiting]] = []
    records = 0
    for waiting in appends:
        if not groups or records + len(waiting.records) > COLLECTIONS_MAX_RECORDS:
            groups.append([])
            records = 0
        groups[-1].append(waiting)
        records += len(waiting.records)
    return groups


def _answer_of(
    waiting: _Waiting,
    collection: SubResponse | None,
    start: int,
    end: int,
    state: SubResponse | None,
    states: Mapping[str, Any],
) -> dict[str, SubResponse]:
    """One append's answers out of its batch's, in the lone composite's shape:
    its slice of its collection's results; the state query's answer with only
    its Case's record (none when the Case is gone)."""
    answers: dict[str, SubResponse] = {}
    if waiting.records and collection is not None:
        results = collection.body[start:end] if collection.ok else collection.body
        answers[plan.APPEND_COMMENTS_REF] = SubResponse(
            plan.APPEND_COMMENTS_REF, collection.status, results, collection.headers
        )
    if state is not None:
        body = state.body
        if state.ok:
            record = states.get(waiting.case_id[:15])
            records = [record] if record is not None else []
            body = {**state.body, "totalSize": len(records), "records": records}
        answers[plan.CASE_STATE_REF] = SubResponse(
            plan.CASE_STATE_REF, state.status, body, state.headers
        )
    return answers


def _by_case(state: SubResponse | None) -> dict[str, Any]:
    """The state query's records by Case Id, 15 characters (the case-sensitive
    form an 18-character Id begins with)."""
    if state is None or not state.ok or not isinstance(state.body, dict):
        return {}
    return {str(r.get("Id"))[:15]: r for r in state.body.get("records") or []}


def _settle(waiting: _Waiting, answer: dict[str, SubResponse]) -> None:
    if not waiting.future.done():
        waiting.future.set_result(answer)


def _failed(waiting: _Waiting, error: SalesforceError) -> None:
    if not waiting.future.done():
        waiting.future.set_exception(error)


def _fail(waiting: _Waiting, message: str) -> None:
    if not waiting.future.done():
        waiting.future.set_exception(SalesforceError(message))
