"""Requests of many callers in one statement, for the PostgreSQL store (#18).

Under load most of a handoff's store work is small reads and writes that do not
depend on each other (the host's journal entry and its removal, the plugin's
index entries, the job's row). Alone, each is a statement: a round trip, a
parse, bind and execute, a commit with its WAL flush on the server, and about a
tenth of a millisecond of this process's CPU in asyncpg. Those costs, not the
rows, are what a busy host pays for.

Requests of one kind that arrive while ``width`` statements of that kind are in
flight wait for one of them to end, then go together, as one statement over
arrays of their rows (``unnest``). Each caller keeps what it had alone:

* no added wait when the store is not busy: a request that finds fewer than
  ``width`` statements of its kind in flight is sent at once, alone;
* the outcome: a caller hears back only once the statement holding its
  request committed (each statement is its own transaction), with its own
  result;
* isolation from the others' failures: a statement of several requests that
  the server refused (a value it cannot take, say) is run again request by
  request, so only the request at fault gets the error. A failure of the
  connection, which the store already retried through a restart
  (:mod:`._pg_retry`), reaches every request of the statement, as it would
  have reached each alone;
* linearisability: a request takes effect between its call and its answer, as
  before. Requests that are in flight together were concurrent, so any order
  among them is one their callers could have seen; a combiner that needs an
  order (the same key twice) keeps the order the requests came in.

Rows go in key order, so two statements that lock rows lock them in the same
order (two that still meet in a deadlock are rolled back by the server and
retried, :mod:`._pg_retry`, after its ``deadlock_timeout``).

A caller cancelled before its statement is sent writes nothing; once sent,
its request is written with the others and the caller does not hear of it,
as with any statement in flight.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, Generic, TypeVar

_Req = TypeVar("_Req")
_Res = TypeVar("_Res")

# A caller's request and the future its answer goes to.
_Pending = tuple[_Req, "asyncio.Future[_Res]"]

# Statements of one kind in flight before requests queue. Each statement costs
# this process and the server a round trip's CPU whatever its rows, so the
# fewest statements win once the store is busy: at 100 concurrent handoffs,
# 50 ms, eight interleaved pairs (session 14) gave width 1 662-738 handoffs/s
# (mean 708) against width 2's 653-701 (mean 675), +5 % and 7 pairs of 8, with
# 0.91-1.06 ms of CPU a handoff against 1.01-1.07; width 8 made 512-557/s. At
# 10 concurrent the two were alike (p50 115-116 ms). (Before the job's reads
# shrank, widths 1, 2 and 4 had measured alike, 475-585/s.)
WIDTH = 1
# A statement's arrays stay well below PostgreSQL's limits (a bind message of 1 GB).
MAX_REQUESTS = 500


class Combiner(Generic[_Req, _Res]):
    """Runs requests through ``run_many`` (requests in, one result each out, in
    order), several in one call when they queue up (see the module docstring).

    ``row``: for requests whose statement cannot say which of two requests on
    one row changed it (a compare-and-set, a delete), the row a request is on.
    Such requests go one per row a statement: the first request on each row
    together, then the second ones, and so on, in the order they came; rows in
    key order.
    """

    def __init__(
        self,
        run_many: Callable[[Sequence[_Req]], Awaitable[Sequence[_Res]]],
        *,
        refused: Callable[[Exception], bool],
        row: Callable[[_Req], Any] | None = None,
        width: int = WIDTH,
        max_requests: int = MAX_REQUESTS,
    ) -> None:
        self._run_many = run_many
        self._refused = refused  # the server refused the statement (not the connection)
        self._row = row
        self._width = width
        self._max = max_requests
        self._queue: list[_Pending[_Req, _Res]] = []
        self._in_flight = 0
        self._tasks: set[asyncio.Task[None]] = set()

    async def __call__(self, request: _Req) -> _Res:
        done: asyncio.Future[_Res] = asyncio.get_running_loop().create_future()
        self._queue.append((request, done))
        if self._in_flight < self._width:
            self._send_next()
        return await done

    def _send_next(self) -> None:
        batch = [(r, f) for r, f in self._queue[: self._max] if not f.cancelled()]
        del self._queue[: self._max]
        if not batch:
            if self._queue:
                self._send_next()
            return
        self._in_flight += 1
        task = asyncio.get_running_loop().create_task(self._send(batch))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _send(self, batch: list[_Pending[_Req, _Res]]) -> None:
        try:
            for statement in self._statements_of(batch):
                await self._run(statement)
        except BaseException as exc:  # cancelled (the store closing): nobody waits in vain
            for _, done in batch:
                _settle(done, exc)
            raise
        finally:
            self._in_flight -= 1
            if self._queue and self._in_flight < self._width:
                self._send_next()

    def _statements_of(self, batch: list[_Pending[_Req, _Res]]) -> list[list[_Pending[_Req, _Res]]]:
        """The batch as statements: one, or one per round of distinct rows."""
        key_of = self._row
        if key_of is None:
            return [batch]
        rounds: list[dict[Any, _Pending[_Req, _Res]]] = []
        for pending in batch:
            key = key_of(pending[0])
            free = next((r for r in rounds if key not in r), None)
            if free is None:
                free = {}
                rounds.append(free)
            free[key] = pending
        return [[r[key] for key in sorted(r)] for r in rounds]

    async def _run(self, statement: list[_Pending[_Req, _Res]]) -> None:
        """One statement; each caller settled with its own result or error."""
        try:
            results = await self._run_many([request for request, _ in statement])
        except Exception as exc:
            if len(statement) == 1 or not self._refused(exc):
                for _, done in statement:
                    _settle(done, exc)
                return
            # Which request is at fault? Each alone: only its caller hears of it.
            # (The statement was refused whole: nothing of it was written.)
            for request, done in statement:
                try:
                    [result] = await self._run_many([request])
                except Exception as alone:
                    _settle(done, alone)
                else:
                    _settle(done, result)
            return
        for (_, done), result in zip(statement, results, strict=True):
            _settle(done, result)

    async def drain(self) -> None:
        """Wait for the statements in flight and those queued behind them."""
        while self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)


Request = tuple[Any, ...]  # a request's fields; the row's key first (ns, key)


def row_key(request: Request) -> tuple[str, str]:
    return request[0], request[1]


def columns(requests: Sequence[Request], width: int) -> list[list[Any]]:
    """The first ``width`` fields of the requests as one array each, for ``unnest``."""
    return [[request[n] for request in requests] for n in range(width)]


def found(requests: Sequence[Request], rows: Sequence[Any]) -> list[bool]:
    """For each request on a distinct row: whether its (ns, key) is among the
    pairs that start ``rows``, the rows a statement changed."""
    hit = {(str(row[0]), str(row[1])) for row in rows}
    return [row_key(request) in hit for request in requests]


def _settle(done: asyncio.Future[_Res], outcome: _Res | BaseException) -> None:
    if done.done():
        return
    if isinstance(outcome, BaseException):
        done.set_exception(outcome)
        done.add_done_callback(_retrieve)  # not "never retrieved" if its caller left
    else:
        done.set_result(outcome)


def _retrieve(done: asyncio.Future[Any]) -> None:
    if not done.cancelled():
        done.exception()
