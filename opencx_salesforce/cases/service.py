"""The Case lifecycle: a handoff becomes a Case with its transcript, in one API
call, exactly once; later messages are appended to the same Case.

Exactly once, honestly. The Case is upserted on an external-id field carrying
the session id, so a retried create can never make a second Case. CaseComment has
no custom fields, so nothing like that protects the comments: instead, the
transcript is rendered deterministically, and any attempt after the first (whose
outcome may be unknown: a timeout, a crash after sending) first reads what landed
on the Case (one query) and writes only the bodies that are missing.

One call per handoff. The Case upsert, its comments (sObject Collections of up to
200 records, referencing ``@{refCase.id}``) and, for a contact not seen before, the
Contact lookup and the link to it, all travel in one composite request, which
counts as one API call. [src: api_rest resources_composite_composite_post.htm "The
entire series of requests counts as a single call toward your API limits"]
"""

from __future__ import annotations

import json
import logging
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pluggy

from opencx_salesforce.cases.fields import base_fields, check_fields, hook_fields
from opencx_salesforce.cases.index import CaseIndex, SessionCase
from opencx_salesforce.cases.transcript import plan_transcript, split_bodies
from opencx_salesforce.clock import SYSTEM_CLOCK, Clock
from opencx_salesforce.config import SalesforceSettings
from opencx_salesforce.errors import ExtensionHookError, LockBusy, PermanentFailure, RetryLater
from opencx_salesforce.extensions import answers
from opencx_salesforce.hookspecs import Host
from opencx_salesforce.models import HandoffReason, Message, Session
from opencx_salesforce.outbox.queue import Job, Outbox
from opencx_salesforce.salesforce import soql, subrequests
from opencx_salesforce.salesforce.client import SalesforceClient
from opencx_salesforce.salesforce.errors import ApiError, error_for_response
from opencx_salesforce.salesforce.subrequests import (
    COLLECTIONS_MAX_RECORDS,
    COMPOSITE_MAX_COLLECTIONS_OR_QUERIES,
    Subrequest,
    SubResponse,
)
from opencx_salesforce.store.lock import store_lock

log = logging.getLogger(__name__)

# How long one worker may hold a contact's lock: longer than any attempt takes.
LOCK_TTL = 120.0
# The outbox job kinds this area registers (see :meth:`CaseService.register_jobs`).
HANDOFF_KIND = "handoff"
APPEND_KIND = "append"
# How long an append waits for a Case whose handoff it cannot see queued.
APPEND_GRACE = 300.0
DESCRIBE_CACHE_NS = "salesforce.describe"
DESCRIBE_TTL = 3600.0


@dataclass(frozen=True)
class Outcome:
    case_id: str
    created: bool  # a new Case (False: appended to an existing one)
    comments_written: int


def external_id_for(session_id: str, generation: int) -> str:
    return session_id if generation == 1 else f"{session_id}~{generation}"


class CaseService:
    def __init__(
        self,
        *,
        host: Host,
        client: SalesforceClient,
        settings: SalesforceSettings,
        index: CaseIndex,
        pm: pluggy.PluginManager,
        outbox: Outbox,
        clock: Clock = SYSTEM_CLOCK,
    ) -> None:
        self._host = host
        self._client = client
        self._settings = settings
        self._index = index
        self._pm = pm
        self._outbox = outbox
        self._clock = clock

    def register_jobs(self) -> None:
        """Register this area's job kinds on the outbox."""
        self._outbox.register(HANDOFF_KIND, self._handoff_job)
        self._outbox.register(APPEND_KIND, self._append_job)

    async def _handoff_job(self, job: Job) -> None:
        await self.handle_handoff(job)

    async def _append_job(self, job: Job) -> None:
        await self.handle_append(job)

    # --- host events: persisted, then done by a worker -----------------------------------
    async def submit_handoff(self, session: Session, reason: HandoffReason) -> None:
        """Queue the handoff. The job first: a crash right after it leaves work
        queued, never a "pending" mark with nothing behind it. The mark only tells
        appends that arrive before the Case to wait for it."""
        await self._outbox.submit(
            HANDOFF_KIND,
            f"{HANDOFF_KIND}:{session.id}",
            {"session": session.model_dump(mode="json"), "reason": reason.model_dump()},
        )
        await self._index.mark_pending(session.id)

    async def submit_append(self, session: Session, messages: list[Message]) -> None:
        """Queue the contact's new messages for the session's Case."""
        if not messages:
            return
        item_id = f"{APPEND_KIND}:{session.id}:{messages[0].id}"
        await self._outbox.submit(
            APPEND_KIND,
            item_id,
            {
                "session_id": session.id,
                "messages": [m.model_dump(mode="json") for m in messages],
                # The order the contact wrote in, which the appends keep.
                "seq": await self._index.append_seq(session.id, item_id),
            },
        )

    # --- jobs --------------------------------------------------------------------------
    async def handle_handoff(self, job: Job) -> Outcome | None:
        session = Session.model_validate(job.payload["session"])
        key = session.contact.key()
        try:
            async with store_lock(self._host.store, f"contact:{key or session.id}", LOCK_TTL):
                return await self._handoff(session, key, job.is_retry)
        except LockBusy:
            raise RetryLater("another worker is handling this contact", delay=0.2) from None

    async def handle_append(self, job: Job) -> Outcome | None:
        session_id = job.payload["session_id"]
        messages = [Message.model_validate(m) for m in job.payload["messages"]]
        ref = await self._index.session_case(session_id)
        if ref is None:
            young = self._clock.time() - job.enqueued_at < APPEND_GRACE
            if young or await self._index.is_pending(session_id):
                # The handoff may still be queued (or its pending mark not yet
                # written when this append was): wait for its Case.
                raise RetryLater("the session's Case is not created yet", delay=0.5)
            raise PermanentFailure(
                f"session {session_id} has no Salesforce Case to append to "
                "(was its handoff dead-lettered?)"
            )
        seq = job.payload.get("seq")
        if isinstance(seq, int):
            # Appends of one conversation land in the order the contact wrote:
            # this one waits for the one before it (a bounded wait: a message
            # whose job was lost or buried holds the others back no longer than
            # APPEND_GRACE; then order gives way, nothing is dropped).
            done = await self._index.appended_upto(session_id)
            if seq > done + 1 and await self._earlier_append_queued(session_id, seq, job):
                raise RetryLater(
                    "an earlier message of this conversation is not on the Case yet", 0.2
                )
        if await self._index.append_landed(job.item_id):
            return None  # the same messages again (a host replaying its hook call)
        outcome = await self._append(job, session_id, messages, ref)
        await self._index.mark_append_landed(job.item_id)
        if isinstance(seq, int):
            await self._index.mark_appended(session_id, seq)
        return outcome

    async def _earlier_append_queued(self, session_id: str, seq: int, job: Job) -> bool:
        """Whether an earlier append of the session is still in the outbox. Only
        a queued one is waited for: one that was never queued (its process died
        first) must not hold the others back."""
        # Read only when an append finds itself ahead of an earlier one: rare.
        queued = await self._outbox.pending(f"{APPEND_KIND}:{session_id}:")
        seqs = [j.payload.get("seq") for j in queued]
        return any(isinstance(other, int) and other < seq for other in seqs)

    async def _append(
        self, job: Job, session_id: str, messages: list[Message], ref: SessionCase
    ) -> Outcome | None:
        entry = await self._index.case(ref.case_id)
        session = await self._host.get_session(session_id)
        if entry is not None and entry.closed:
            if session is None:
                raise PermanentFailure(f"session {session_id} is gone from the host")
            # The Case closed meanwhile: a new Case, linked to the old one.
            snapshot = session.model_copy(update={"messages": messages})
            return await self.handle_handoff(
                Job(
                    HANDOFF_KIND,
                    job.item_id,
                    {"session": snapshot.model_dump(mode="json")},
                    job.attempts,
                    job.enqueued_at,
                )
            )
        title = f"Customer wrote again · conversation {session_id} · {messages[0].id}"
        # The host may have dropped the session; its words are in the job.
        bodies = await self._render(session or Session(id=session_id), messages, title)
        written = await self._append_bodies(ref.case_id, bodies, job.is_retry)
        return Outcome(ref.case_id, created=False, comments_written=written)

    # --- handoff -------------------------------------------------------------------------
    async def _handoff(self, session: Session, key: str | None, is_retry: bool) -> Outcome | None:
        ref = await self._index.session_case(session.id)
        entry = await self._index.case(ref.case_id) if ref else None
        if ref is not None and not (entry and entry.closed):
            # Already done: a duplicate handoff changes nothing in Salesforce. The
            # session's fields are written again (idempotent): a worker that died
            # between the index and the host's session may have left them unset.
            await self._set_session_fields(session.id, ref.case_id)
            await self._index.clear_pending(session.id)
            return None

        previous = await self._index.contact_case(key) if key else None
        if previous is not None and not previous[1] and (ref is None or ref.case_id != previous[0]):
            return await self._join_open_case(session, key, previous[0], is_retry)

        generation = ref.generation + 1 if ref is not None else 1
        parent = ref.case_id if ref is not None else (previous[0] if previous else None)
        outcome = await self._create_case(session, key, generation, parent, is_retry)
        await self._index.clear_pending(session.id)
        return outcome

    async def _join_open_case(
        self, session: Session, key: str | None, case_id: str, is_retry: bool
    ) -> Outcome:
        """The same contact already has an open Case: this conversation goes there."""
        title = f"New conversation from this customer · conversation {session.id}"
        bodies = await self._render(session, session.messages, title)
        written = await self._append_bodies(case_id, bodies, is_retry)
        await self._link(session.id, SessionCase(case_id, None), key)
        await self._index.clear_pending(session.id)
        return Outcome(case_id, created=False, comments_written=written)

    async def _create_case(
        self,
        session: Session,
        key: str | None,
        generation: int,
        parent: str | None,
        is_retry: bool,
    ) -> Outcome:
        external_id = external_id_for(session.id, generation)
        fields = await self._case_fields(session)
        if parent:
            fields["ParentId"] = parent
        contact_id = await self._index.contact_match(key) if key else None
        if contact_id:
            fields["ContactId"] = contact_id
        title = f"Conversation transcript · conversation {session.id}"
        bodies = await self._render(session, session.messages, title)

        existing_case: str | None = None
        if is_retry:
            # The last attempt may have landed, wholly or in part: look first.
            existing_case, landed = await self._read_landed_by_external_id(external_id)
            if existing_case is not None:
                bodies = await self._not_yet_landed(bodies, landed)

        lookup = (
            self._settings.match_contacts
            and key is not None
            and contact_id is None
            and bool(session.contact.email or session.contact.phone)
        )
        subrequests, comment_refs = self._handoff_subrequests(
            external_id, fields, bodies, existing_case, session if lookup else None
        )
        overflow = bodies[len(comment_refs) * COLLECTIONS_MAX_RECORDS :] if comment_refs else []
        if not comment_refs:
            overflow = [] if existing_case else bodies
        await self._index.remember_own_bodies(bodies)
        responses = await self._composite(subrequests)
        by_ref = {r.reference_id: r for r in responses}

        case_response = by_ref.get("refCase")
        if case_response is not None:
            self._raise_for(case_response, f"upsert Case {self._settings.session_id_field}")
            case_id = str(case_response.body["id"])
            created = bool(case_response.body.get("created", case_response.status == 201))
        else:
            assert existing_case is not None
            case_id, created = existing_case, False

        written = await self._collect_comments(by_ref, comment_refs)
        if lookup and key is not None:
            matched = await self._remember_match(key, by_ref.get("refContact"))
            if matched is False and self._settings.create_contacts:
                await self._create_contact(session, key, case_id)
        if overflow:
            written += await self._append_bodies(case_id, overflow, is_retry=False)
        await self._link(session.id, SessionCase(case_id, external_id, generation), key)
        log.info("session %s handed off as Case %s (%d comments)", session.id, case_id, written)
        return Outcome(case_id, created=created or existing_case is None, comments_written=written)

    def _handoff_subrequests(
        self,
        external_id: str,
        fields: Mapping[str, Any],
        bodies: Sequence[str],
        existing_case: str | None,
        lookup_for: Session | None,
    ) -> tuple[list[Subrequest], list[str]]:
        requests: list[Subrequest] = []
        if existing_case is None:
            field = self._settings.session_id_field
            requests.append(subrequests.upsert("Case", field, external_id, fields, ref="refCase"))
        parent_ref = existing_case or "@{refCase.id}"
        slots = COMPOSITE_MAX_COLLECTIONS_OR_QUERIES - (1 if lookup_for else 0)
        comment_refs: list[str] = []
        for n, start in enumerate(range(0, len(bodies), COLLECTIONS_MAX_RECORDS)):
            if n >= slots:
                break
            chunk = bodies[start : start + COLLECTIONS_MAX_RECORDS]
            ref = f"refComments{n}"
            records = self._comment_records(parent_ref, chunk)
            requests.append(subrequests.create_records(records, ref=ref, all_or_none=True))
            comment_refs.append(ref)
        if lookup_for is not None:
            requests.append(subrequests.query(self._contact_query(lookup_for), ref="refContact"))
            target = existing_case or "@{refCase.id}"
            link = {"ContactId": "@{refContact.records[0].Id}"}
            requests.append(subrequests.update("Case", target, link, ref="refLink"))
        return requests, comment_refs

    def _contact_query(self, session: Session) -> str:
        contact = session.contact
        if contact.email:
            where = f"Email = {soql.literal(contact.email.strip())}"
        else:
            assert contact.phone
            phone = soql.literal(contact.phone.strip())
            where = f"Phone = {phone} OR MobilePhone = {phone}"
        return f"SELECT Id FROM Contact WHERE {where} ORDER BY LastModifiedDate DESC LIMIT 1"

    async def _remember_match(self, key: str, response: SubResponse | None) -> bool | None:
        """Cache the lookup's answer. True: a Contact matched; False: none did;
        None: the lookup failed (it is tried again next time)."""
        if response is None or not response.ok:
            return None
        records = response.body.get("records") or []
        await self._index.remember_contact_match(key, records[0]["Id"] if records else None)
        return bool(records)

    async def _create_contact(self, session: Session, key: str, case_id: str) -> None:
        """``create_contacts``: no Contact matched, so make one and link the Case
        to it, in one more composite call (a first-seen contact only). The
        contact key is locked by the caller, so two handoffs of one person
        never make two Contacts."""
        contact = session.contact
        name = (contact.name or "").strip()
        first, _, last = name.rpartition(" ")
        # LastName is required on Contact. [src: Contact object reference]
        fields: dict[str, Any] = {
            "FirstName": first or None,
            "LastName": (last or contact.email or contact.phone or "Unknown")[:80],
            "Email": contact.email,
            "Phone": contact.phone,
        }
        responses = await self._composite(
            [
                subrequests.create(
                    "Contact", {k: v for k, v in fields.items() if v}, ref="refNewContact"
                ),
                subrequests.update(
                    "Case", case_id, {"ContactId": "@{refNewContact.id}"}, ref="refLinkNew"
                ),
            ]
        )
        created = responses[0] if responses else None
        if created is not None and created.ok:
            await self._index.remember_contact_match(key, str(created.body["id"]))
        else:
            log.warning(
                "could not create a Contact for session %s: %s",
                session.id,
                _describe_error(created) if created else "no answer",
            )

    # --- appending ----------------------------------------------------------------------
    async def _append_bodies(self, case_id: str, bodies: list[str], is_retry: bool) -> int:
        if is_retry:
            bodies = await self._not_yet_landed(bodies, await self._read_landed_comments(case_id))
        written = 0
        for start in range(0, len(bodies), COLLECTIONS_MAX_RECORDS):
            chunk = bodies[start : start + COLLECTIONS_MAX_RECORDS]
            records = self._comment_records(case_id, chunk)
            await self._index.remember_own_bodies(chunk)
            results = await self._client.collections_create(records, all_or_none=True)
            ids = [r.id for r in results if r.success and r.id]
            await self._index.remember_own_comments(ids)
            failures = [e for r in results if not r.success for e in r.errors]
            if failures:
                raise _refusal(
                    f"Salesforce refused the comments on Case {case_id}",
                    [{"message": e.message, "errorCode": e.error_code} for e in failures],
                )
            written += len(ids)
        return written

    def _comment_records(self, parent: str, bodies: Sequence[str]) -> list[dict[str, Any]]:
        return [
            {
                "attributes": {"type": "CaseComment"},
                "ParentId": parent,
                "CommentBody": body,
                "IsPublished": self._settings.publish_transcript,
            }
            for body in bodies
        ]

    async def _collect_comments(
        self, by_ref: Mapping[str, SubResponse], refs: Sequence[str]
    ) -> int:
        written = 0
        problem: ApiError | None = None
        for ref in refs:
            response = by_ref.get(ref)
            if response is None:
                continue
            if not response.ok:
                problem = problem or response.error("write the transcript comments")
                continue
            ids = [r["id"] for r in response.body if r.get("success") and r.get("id")]
            await self._index.remember_own_comments(ids)
            written += len(ids)
            failed = [e for r in response.body if not r.get("success") for e in r["errors"]]
            if failed:
                problem = problem or _refusal("some transcript comments were not written", failed)
        if problem:
            # The Case exists. A retryable failure (a locked row) is retried and
            # the retry reads what landed and writes the rest; a refusal
            # (a validation rule) is dead-lettered with Salesforce's message.
            raise problem
        return written

    # --- reading what landed ----------------------------------------------------------------
    async def _read_landed_by_external_id(
        self, external_id: str
    ) -> tuple[str | None, list[tuple[str, str]]]:
        field = self._settings.session_id_field
        query = (
            "SELECT Id, (SELECT Id, CommentBody FROM CaseComments) FROM Case "
            f"WHERE {field} = {soql.literal(external_id)} LIMIT 1"
        )
        records = await self._client.query_records(query)
        if not records:
            return None, []
        case = records[0]
        comments = (case.get("CaseComments") or {}).get("records") or []
        return str(case["Id"]), [(str(c["Id"]), c["CommentBody"] or "") for c in comments]

    async def _read_landed_comments(self, case_id: str) -> list[tuple[str, str]]:
        query = f"SELECT Id, CommentBody FROM CaseComment WHERE ParentId = {soql.literal(case_id)}"
        records = await self._client.query_records(query)
        return [(str(r["Id"]), r["CommentBody"] or "") for r in records]

    async def _not_yet_landed(
        self, planned: list[str], landed: Sequence[tuple[str, str]]
    ) -> list[str]:
        """The planned bodies still missing from the Case. The landed comments
        that are ours (their body is one we planned) are remembered as the
        plugin's own; anyone else's comments on the Case are left alone."""
        mine = set(planned)
        await self._index.remember_own_comments([i for i, body in landed if body in mine])
        return _missing(planned, [body for _, body in landed])

    # --- pieces ------------------------------------------------------------------------------
    async def _composite(self, subrequests: list[Subrequest]) -> list[SubResponse]:
        if not subrequests:
            return []
        return await self._client.composite(subrequests, all_or_none=False)

    def _raise_for(self, response: SubResponse, what: str) -> None:
        error = response.error(what)
        if error is not None:
            raise error

    async def _link(self, session_id: str, ref: SessionCase, key: str | None) -> None:
        await self._index.link_session(session_id, ref, key)
        await self._set_session_fields(session_id, ref.case_id)

    async def _set_session_fields(self, session_id: str, case_id: str) -> None:
        await self._host.set_session_metadata(session_id, "salesforce_case_id", case_id)
        url = await self._client.record_url("Case", case_id)
        await self._host.set_session_metadata(session_id, "salesforce_case_url", url)

    async def _render(self, session: Session, messages: Sequence[Message], title: str) -> list[str]:
        """The comment bodies for ``messages``: from the first plugin whose
        ``salesforce_transcript`` answers, else the default packing."""
        async for plugin, answer in answers(
            self._pm, "salesforce_transcript", session=session, messages=list(messages)
        ):
            if not isinstance(answer, list) or not all(isinstance(b, str) for b in answer):
                raise ExtensionHookError(
                    plugin, None, "salesforce_transcript must return a list of strings or None"
                )
            return split_bodies([f"{title}\n\n{body}" for body in answer])
        return [c.body for c in plan_transcript(messages, title=title)]

    async def _case_fields(self, session: Session) -> dict[str, Any]:
        fields = base_fields(session, self._settings)
        protected = {"Case_From__c", self._settings.session_id_field}
        extra, owners = await hook_fields(self._pm, session, fields, protected)
        if extra:
            describe, cached = await self._describe_case()
            try:
                check_fields(extra, describe, owners)
            except ExtensionHookError:
                if not cached:
                    raise
                # The admin may have just fixed the org (added the field): look
                # again before calling it an error.
                describe, _ = await self._describe_case(fresh=True)
                check_fields(extra, describe, owners)
            fields.update(extra)
        return fields

    async def _describe_case(self, *, fresh: bool = False) -> tuple[Mapping[str, Any], bool]:
        """The Case describe and whether it came from the cache. Cached in the
        store for an hour (shared by every host instance), so checking hook
        fields costs an API call per hour, not per handoff."""

        raw = None if fresh else await self._host.store.get(DESCRIBE_CACHE_NS, "Case")
        if raw is not None:
            cached: Mapping[str, Any] = json.loads(raw)
            return cached, True
        describe = await self._client.describe("Case")
        slim = {
            "fields": [
                {
                    k: f.get(k)
                    for k in (
                        "name",
                        "type",
                        "length",
                        "createable",
                        "updateable",
                        "nillable",
                        "restrictedPicklist",
                        "picklistValues",
                    )
                }
                for f in describe.get("fields", [])
            ]
        }
        await self._host.store.set(
            DESCRIBE_CACHE_NS, "Case", json.dumps(slim).encode(), ttl=DESCRIBE_TTL
        )
        return slim, False


def _missing(planned: Sequence[str], landed: Sequence[str]) -> list[str]:
    """``planned`` minus what already ``landed`` (as multisets), in order."""
    left = Counter(landed)
    out = []
    for body in planned:
        if left[body] > 0:
            left[body] -= 1
        else:
            out.append(body)
    return out


# Salesforce's code for a record not written only because another record of the
# same all-or-none request failed. [src: api_rest resources_composite_sobjects_collections.htm,
# allOrNone] It says nothing about the record itself.
_ROLLED_BACK = "ALL_OR_NONE_OPERATION_ROLLED_BACK"


def _refusal(what: str, errors: Sequence[Mapping[str, Any]]) -> ApiError:
    """The error for records Salesforce did not write, classed by the code of
    the first record that failed for itself (a validation rule is permanent, a
    locked row is not)."""
    own = [e for e in errors if (e.get("statusCode") or e.get("errorCode")) != _ROLLED_BACK]
    # ``url`` names what was attempted, as for a composite subrequest's error.
    return error_for_response(url=what, status=400, body=list(own or errors))


def _describe_error(response: SubResponse) -> str:
    body = response.body
    if isinstance(body, list) and body and isinstance(body[0], Mapping):
        return f"{body[0].get('errorCode')}: {body[0].get('message')}"
    return f"HTTP {response.status}"
