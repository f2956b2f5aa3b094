"""Contact lookups for batched handoffs, group-committed: the first goes at
once, those asked for while a query is in flight go together in the next one
(``Email IN (...)``). See :mod:`.batch` for how their answers reach the Cases.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from typing import Any, Protocol

from opencx_salesforce.background import Background
from opencx_salesforce.cases import plan
from opencx_salesforce.models import Contact
from opencx_salesforce.salesforce import subrequests
from opencx_salesforce.salesforce.client import SalesforceClient
from opencx_salesforce.salesforce.errors import TransportError, error_for_response

log = logging.getLogger(__name__)

# Contacts asked for in one query: more than a payload's graphs, so one query
# keeps up with the graph requests. The query goes in a composite request's body,
# not the URL: a REST request's URI and headers may not pass 16,384 bytes, and
# Salesforce advises a SOQL statement that long go in a composite subrequest.
# [src: help.salesforce.com article 000386264 "Maximum number of rows returned by
# SOQL queries over the REST API"] SOQL itself allows 100,000 characters.
LOOKUP_MAX_CONTACTS = 200
# Lookup queries in flight at once.
LOOKUP_MAX_IN_FLIGHT = 1


@dataclass(frozen=True)
class Match:
    contact_id: str | None  # None: no Contact matched


class _Counts(Protocol):
    requests: int


class Lookups:
    """Contact lookups, group-committed: the first goes at once, those asked for
    while a query is in flight go together in the next one."""

    def __init__(self, client: SalesforceClient, stats: _Counts) -> None:
        self._client = client
        self._stats = stats
        self._busy = 0  # queries in flight
        self._waiting: list[tuple[Contact, asyncio.Future[Match | None]]] = []
        self._background = Background()

    @property
    def in_flight(self) -> int:
        """Queries sent and not yet answered."""
        return self._busy

    @property
    def queued(self) -> int:
        """Lookups waiting for the next query."""
        return sum(1 for _, future in self._waiting if not future.done())

    def running(self) -> bool:
        return self._background.running()

    def submit(self, contact: Contact) -> asyncio.Future[Match | None]:
        """Ask for ``contact``'s Contact; it is looked up at the next :meth:`kick`
        that finds no query in flight. Cancel the future to take it back."""
        future: asyncio.Future[Match | None] = asyncio.get_running_loop().create_future()
        self._waiting.append((contact, future))
        return future

    async def close(self) -> None:
        """Stop: the queries in flight are abandoned (a query changes nothing)
        and no other is sent; every lookup not yet answered is cancelled."""
        for _, future in self._waiting:
            future.cancel()
        self._waiting.clear()
        await self._background.close()

    def kick(self) -> None:
        while self._waiting and self._busy < LOOKUP_MAX_IN_FLIGHT and not self._background.closed:
            # A lookup taken back (its handoff left the line) is not asked for.
            batch = [(c, f) for c, f in self._waiting[:LOOKUP_MAX_CONTACTS] if not f.done()]
            del self._waiting[:LOOKUP_MAX_CONTACTS]
            if not batch:
                continue
            self._busy += 1
            self._background.spawn(self._run(batch), name="contact-lookups")

    async def _run(self, batch: list[tuple[Contact, asyncio.Future[Match | None]]]) -> None:
        answers: list[Match | None] = [None] * len(batch)
        contacts = [contact for contact, _ in batch]
        try:
            records = await self._query_once_more(plan.contacts_query(contacts))
            answers = [Match(found) for found in plan.match_contacts(contacts, records)]
        except Exception as exc:
            # As a lone handoff's failed lookup: no link now, tried next time.
            log.warning("Contact lookup for %d handoffs failed: %s", len(batch), exc)
        finally:
            self._busy -= 1
            for (_, future), answer in zip(batch, answers, strict=True):
                if not future.done():
                    future.set_result(answer)
            self.kick()

    async def _query_once_more(self, soql: str) -> list[Any]:
        """:meth:`_query`, sent again at once when the connection broke with no
        answer (a server or proxy closing a kept-alive connection as the query
        went out on it): a query changes nothing, and a Case created without
        its Contact stays so. Not after a timeout: that query waited long enough."""
        try:
            return await self._query(soql)
        except TransportError as exc:
            if isinstance(exc.__cause__, TimeoutError):
                raise
            log.info("Contact lookup got no answer (%s); sending it again", exc)
            return await self._query(soql)

    async def _query(self, soql: str) -> list[Any]:
        """Every record of the query, its first page read through composite."""
        self._stats.requests += 1
        (answer,) = await self._client.composite([subrequests.query(soql, ref="refContacts")])
        if not answer.ok:
            raise error_for_response(
                url="query", status=answer.status, body=answer.body, headers=answer.headers
            )
        page: dict[str, Any] = answer.body
        records = list(page.get("records") or [])
        while not page.get("done", True) and page.get("nextRecordsUrl"):
            self._stats.requests += 1
            page = await self._client.query_more(str(page["nextRecordsUrl"]))
            records.extend(page.get("records") or [])
        return records
