"""Transcript comments on a Case, written exactly once.

CaseComment has no external-id field, so nothing in Salesforce stops a retried
write from doubling a transcript. This module holds the other half of the
exactly-once promise (see :mod:`.service`): it writes the rendered bodies as
CaseComments, collects which ones a composite call wrote, and on an attempt
whose outcome is unknown first reads what landed on the Case so that only the
missing bodies are written. The comments it wrote are remembered in the
:class:`.index.CaseIndex` as the plugin's own (so the reply path skips them).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from opencx_salesforce.cases import plan
from opencx_salesforce.cases.append_batch import AppendBatcher
from opencx_salesforce.cases.index import CaseIndex
from opencx_salesforce.salesforce.client import SalesforceClient
from opencx_salesforce.salesforce.errors import ApiError
from opencx_salesforce.salesforce.subrequests import COLLECTIONS_MAX_RECORDS, SubResponse
from opencx_salesforce.settings import SalesforceSettings


def raise_for(response: SubResponse, what: str) -> None:
    """Raise the error a subrequest's answer carries, if any."""
    error = response.error(what)
    if error is not None:
        raise error


class TranscriptComments:
    """Writes a Case's transcript comments and reads which ones landed."""

    def __init__(
        self, *, client: SalesforceClient, settings: SalesforceSettings, index: CaseIndex
    ) -> None:
        self._client = client
        self._settings = settings
        self._index = index
        # Appends ready while one is in flight go together.
        self.appends = AppendBatcher(client)

    async def append_and_read_state(
        self, case_id: str, bodies: list[str], is_retry: bool
    ) -> tuple[int, bool]:
        """Write ``bodies`` on the Case and, in the same composite call, read
        whether the Case is closed. The read comes after the write: when it says
        open, the words were on the Case before any closure. Returns the comments
        written and whether the Case was closed."""
        if is_retry:
            bodies = await self.not_yet_landed(
                case_id, bodies, await self._read_landed_comments(case_id)
            )
        last = (max(len(bodies) - 1, 0) // COLLECTIONS_MAX_RECORDS) * COLLECTIONS_MAX_RECORDS
        # An append of more than 200 comments (rare) writes its leading batches first.
        written = await self.append(case_id, bodies[:last], is_retry=False)
        chunk = bodies[last:]
        records = plan.comment_records(case_id, chunk, published=self._settings.publish_transcript)
        await self._index.remember_own_bodies(chunk)
        # Alone, or with the other appends ready meanwhile (append_batch.py).
        by_ref = await self.appends.send(case_id, records)
        state = by_ref.get(plan.CASE_STATE_REF)
        refs = [plan.APPEND_COMMENTS_REF] if chunk else []
        ids = await self.collect(case_id, by_ref, refs)
        await self._index.remember_own_comments(case_id, ids)
        written += len(ids)
        if state is None:
            raise plan.refusal(f"read Case {case_id}", [])
        raise_for(state, f"read Case {case_id}")
        records = state.body.get("records") or []
        # No record: the Case was deleted; its words have no open Case either.
        return written, not records or bool(records[0].get("IsClosed"))

    async def append(self, case_id: str, bodies: list[str], is_retry: bool) -> int:
        """Write ``bodies`` on the Case in batches of Collections; on a retry,
        only those not on it yet. Returns the comments written."""
        if is_retry:
            bodies = await self.not_yet_landed(
                case_id, bodies, await self._read_landed_comments(case_id)
            )
        written = 0
        for start in range(0, len(bodies), COLLECTIONS_MAX_RECORDS):
            chunk = bodies[start : start + COLLECTIONS_MAX_RECORDS]
            records = plan.comment_records(
                case_id, chunk, published=self._settings.publish_transcript
            )
            await self._index.remember_own_bodies(chunk)
            results = await self._client.collections_create(records, all_or_none=True)
            ids = [r.id for r in results if r.success and r.id]
            await self._index.remember_own_comments(case_id, ids)
            failures = [e for r in results if not r.success for e in r.errors]
            if failures:
                raise plan.refusal(
                    f"Salesforce refused the comments on Case {case_id}",
                    [{"message": e.message, "errorCode": e.error_code} for e in failures],
                )
            written += len(ids)
        return written

    async def collect(
        self, case_id: str, by_ref: Mapping[str, SubResponse], refs: Sequence[str]
    ) -> list[str]:
        """The Ids of the comments a composite call wrote under ``refs``, for the
        caller to remember as the plugin's own (their bodies already are); raise
        the first failure after reading them all (then the ones written are
        remembered here: the retry reads what landed)."""
        written: list[str] = []
        problem: ApiError | None = None
        for ref in refs:
            response = by_ref.get(ref)
            if response is None:
                continue
            if not response.ok:
                problem = problem or response.error("write the transcript comments")
                continue
            written += [r["id"] for r in response.body if r.get("success") and r.get("id")]
            failed = [e for r in response.body if not r.get("success") for e in r["errors"]]
            if failed:
                problem = problem or plan.refusal(
                    "some transcript comments were not written", failed
                )
        if problem:
            # The Case exists. A retryable failure (a locked row) is retried and
            # the retry reads what landed and writes the rest; a refusal
            # (a validation rule) is dead-lettered with Salesforce's message.
            await self._index.remember_own_comments(case_id, written)
            raise problem
        return written

    async def read_landed_by_external_id(
        self, external_id: str
    ) -> tuple[str | None, list[tuple[str, str]]]:
        query = plan.landed_by_external_id_query(self._settings.session_id_field, external_id)
        records = await self._client.query_records(query)
        if not records:
            return None, []
        case = records[0]
        comments = (case.get("CaseComments") or {}).get("records") or []
        return str(case["Id"]), [(str(c["Id"]), c["CommentBody"] or "") for c in comments]

    async def _read_landed_comments(self, case_id: str) -> list[tuple[str, str]]:
        records = await self._client.query_records(plan.landed_comments_query(case_id))
        return [(str(r["Id"]), r["CommentBody"] or "") for r in records]

    async def not_yet_landed(
        self, case_id: str, planned: list[str], landed: Sequence[tuple[str, str]]
    ) -> list[str]:
        """The planned bodies still missing from the Case. The landed comments
        that are ours (their body is one we planned) are remembered as the
        plugin's own; anyone else's comments on the Case are left alone."""
        mine = set(planned)
        await self._index.remember_own_comments(case_id, [i for i, b in landed if b in mine])
        return plan.missing(planned, [body for _, body in landed])
