"""Creating a session's Case: its fields, its transcript, the Contact link and
the session's link to it, in one API call when it goes alone (:mod:`.plan`) or
as a graph of a shared request under load (:mod:`.batch`).

An attempt after one whose outcome is unknown first reads what landed on the
Case by its external id and writes only the missing bodies (:mod:`.comments`).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable
from dataclasses import dataclass

import pluggy

from opencx_salesforce.cases import plan
from opencx_salesforce.cases.batch import HandoffBatcher, HandoffSend
from opencx_salesforce.cases.comments import TranscriptComments, raise_for
from opencx_salesforce.cases.contacts import create_contact, looked_up
from opencx_salesforce.cases.fields import CaseFields
from opencx_salesforce.cases.index import CaseIndex, SessionCase
from opencx_salesforce.cases.transcript import render
from opencx_salesforce.hookspecs import Host, set_metadata
from opencx_salesforce.models import Session
from opencx_salesforce.outbox.queue import Job
from opencx_salesforce.salesforce.client import SalesforceClient
from opencx_salesforce.salesforce.subrequests import COLLECTIONS_MAX_RECORDS, Subrequest
from opencx_salesforce.settings import SalesforceSettings

log = logging.getLogger(__name__)


class Unread:
    """A value the caller has not read (as opposed to one it read as None)."""


UNREAD = Unread()


@dataclass(frozen=True)
class Attempt:
    job: Job
    read_first: bool  # an earlier attempt may have landed, wholly or in part


@dataclass(frozen=True)
class Outcome:
    case_id: str
    created: bool  # a new Case (False: appended to an existing one)
    comments_written: int


class CaseCreator:
    """Makes a session's Case (or finishes one an earlier attempt began) and
    links the session to it."""

    def __init__(
        self,
        *,
        host: Host,
        client: SalesforceClient,
        settings: SalesforceSettings,
        index: CaseIndex,
        pm: pluggy.PluginManager,
        comments: TranscriptComments,
    ) -> None:
        self._host = host
        self._client = client
        self._settings = settings
        self._index = index
        self._pm = pm
        self._comments = comments
        self._fields = CaseFields(settings=settings, pm=pm, store=host.store, client=client)
        self.batcher = HandoffBatcher(client)

    async def remember_transcript(self, session: Session) -> list[str]:
        """The session's transcript as comment bodies, remembered as the
        plugin's own (so a reply reader never takes them for a rep's) before
        any of them is sent."""
        title = f"Conversation transcript · conversation {session.id}"
        bodies = await render(self._pm, session, session.messages, title)
        await self._index.remember_own_bodies(bodies)
        return bodies

    async def create(
        self,
        session: Session,
        key: str | None,
        generation: int,
        parent: str | None,
        attempt: Attempt,
        transcript: Awaitable[list[str]] | None = None,
        contact_match: str | Unread | None = UNREAD,
    ) -> Outcome:
        """``transcript``: :meth:`remember_transcript` of ``session``, already
        under way (None: it is done here); ``contact_match``: the index's cached
        match for the contact, if the caller read it already."""
        external_id = plan.external_id_for(session.id, generation)
        fields = await self._fields.build(session)
        if parent:
            fields["ParentId"] = parent
        if isinstance(contact_match, Unread):
            contact_match = await self._index.contact_match(key) if key else None
        contact_id = contact_match if key else None
        if contact_id:
            fields["ContactId"] = contact_id
        bodies = await (transcript or self.remember_transcript(session))

        existing_case: str | None = None
        if attempt.read_first:
            # The last attempt may have landed, wholly or in part: look first.
            existing_case, landed = await self._comments.read_landed_by_external_id(external_id)
            if existing_case is not None:
                bodies = await self._comments.not_yet_landed(existing_case, bodies, landed)

        lookup = (
            self._settings.match_contacts
            and key is not None
            and contact_id is None
            and bool(session.contact.email or session.contact.phone)
        )
        lookup_for = session.contact if lookup else None
        comment_slots = plan.comment_batches(len(bodies), lookup_for is not None)
        covered = comment_slots * COLLECTIONS_MAX_RECORDS
        overflow = bodies[covered:]
        graph = None
        if not overflow:
            graph = plan.handoff_graph(
                self._settings,
                external_id=external_id,
                fields=fields,
                bodies=bodies,
                existing_case=existing_case,
            )

        def composite() -> list[Subrequest]:
            # Built only when the handoff goes alone (under load it is a graph).
            return plan.handoff_requests(
                self._settings,
                external_id=external_id,
                fields=fields,
                bodies=bodies,
                existing_case=existing_case,
                lookup_for=lookup_for,
            )[0]

        send = HandoffSend(composite, graph, lookup_for, existing_case=existing_case)
        try:
            sent = await self.batcher.send(send)
        except Exception as exc:
            if existing_case is None and plan.nothing_landed(exc):
                # Refused whole, with an answer: the retry need not read first.
                await self._index.mark_nothing_landed(attempt.job.item_id, attempt.job.attempts)
            raise
        by_ref = {r.reference_id: r for r in sent.responses}
        comment_refs = [f"refComments{n}" for n in range(comment_slots)]

        case_response = by_ref.get("refCase")
        if case_response is not None:
            raise_for(case_response, f"upsert Case {self._settings.session_id_field}")
            case_id = str(case_response.body["id"])
            created = bool(case_response.body.get("created", case_response.status == 201))
        else:
            assert existing_case is not None
            case_id, created = existing_case, False

        own_comments = await self._comments.collect(case_id, by_ref, comment_refs)
        written = len(own_comments)
        if overflow:
            written += await self._comments.append(case_id, overflow, is_retry=False)
        # The host's write first: the moment the handoff is done for the user;
        # the Contact's link and the index's writes need not delay it (see link).
        await self._session_fields_and_marker(session.id, case_id)
        found: str | None = None  # a Contact the lookup found, cached with the link
        if lookup and key is not None:
            contact = by_ref.get("refContact")
            if sent.late_lookup is not None:
                # It went before its lookup answered: linked now, before the
                # index learns the Case, so a crash in between leaves the retry
                # (which finds no Case in the index) to link it.
                contact = await self.batcher.link_contact(sent, case_id)
            found = looked_up(contact)
            if found == "":
                # A miss is cached on its own (for a day: see the index).
                await self._index.remember_contact_match(key, None)
                if self._settings.create_contacts:
                    await create_contact(self._client, self._index, session, key, case_id)
        await self._index.link_session(
            session.id,
            SessionCase(case_id, external_id, generation),
            key,
            own_comments=own_comments,
            new_case=created and existing_case is None,
            contact_match=found or None,
            marked=True,
        )
        log.info("session %s handed off as Case %s (%d comments)", session.id, case_id, written)
        return Outcome(case_id, created=created or existing_case is None, comments_written=written)

    async def link(self, session_id: str, ref: SessionCase, key: str | None) -> None:
        """The session's Case, on the host and in the index, in that order."""
        # The host's write first: it is the moment the handoff is done for the
        # user, and the index's writes need not delay it. A crash between the two
        # is safe: the job is not acked, so it runs again, finds no Case in the
        # index, upserts on the external id (no second Case), reads what landed
        # (nothing written twice) and links both again. Until then a reply reader
        # knows the Case's comments as the plugin's own by their bodies,
        # remembered before sending (their Ids go with the index's links).
        await self._session_fields_and_marker(session_id, ref.case_id)
        await self._index.link_session(session_id, ref, key, marked=True)

    async def _session_fields_and_marker(self, session_id: str, case_id: str) -> None:
        """The host's write and the Case's open marker (cases/open_cases.py),
        together: the marker must land before the index's entry, not after the
        host's write, so the handoff waits for one write fewer in a row."""
        await asyncio.gather(
            self.set_session_fields(session_id, case_id), self._index.open.mark([case_id])
        )

    async def set_session_fields(self, session_id: str, case_id: str) -> None:
        url = await self._client.record_url("Case", case_id)
        # One write of the session when the host can (HostMetadataMany).
        values = {"salesforce_case_id": case_id, "salesforce_case_url": url}
        await set_metadata(self._host, session_id, values)
