"""A Case that ended without closing: merged into another Case, or deleted (issue
#15.4).

Salesforce deletes the Case that loses a merge and sets its MasterRecordId to
the surviving Case; its comments and emails move to the survivor. [src: apexcode
apex_triggers_merge_statements.htm "When a record is deleted after losing a merge
operation, its MasterRecordId field is set to the ID of the winning record"] The
deleted row stays readable with ``queryAll`` (IsDeleted true) while it is in the
Recycle Bin. [src: api_rest resources_queryall.htm]

* **Merged**: the Case's sessions move to the survivor: the Case index links them
  to it (so replies written there reach them, and the contact's next message goes
  there), and their ``salesforce_case_id`` / ``salesforce_case_url`` metadata
  name it. ``salesforce_case_outcome`` says ``"merged"`` and
  ``salesforce_merged_from`` the old Case, so a host can show what happened. A
  survivor the plugin did not make (say an Email-to-Case Case the rep kept) gets
  the plugin's ``Case_From__c`` value, one update, so that the package's triggers
  ring for it and the sweep watches it. The survivor is then read like any
  notified Case.
  When the survivor is another contact's Case (both the plugin's), the sessions
  are resolved instead, with ``salesforce_case_outcome`` = ``"merged"``: replies
  there are written to that other contact.
* **Deleted**: every session on it is resolved, once, after
  ``salesforce_case_outcome`` = ``"deleted"`` is written on it: the Host protocol's
  ``resolve_session`` takes no reason, and a metadata key is something every host
  already stores and may show (docs/host-implementers.md).

Both run under the Case's lock, from a notify read or a sweep, and may run twice
(a webhook and a sweep both see it): every step is idempotent, and the index
marks the old Case ended (closed) only after its sessions have been dealt with,
so a crash in between finishes on the next read.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

from opencx_salesforce.apex import names
from opencx_salesforce.cases.index import CaseEntry, CaseIndex, SessionCase
from opencx_salesforce.hookspecs import Host
from opencx_salesforce.replies.ledger import ReplyLedger
from opencx_salesforce.replies.status import ReplyStatus
from opencx_salesforce.salesforce.client import SalesforceClient
from opencx_salesforce.salesforce.errors import Forbidden, NotFound, ValidationFailed

log = logging.getLogger(__name__)

OUTCOME_KEY = "salesforce_case_outcome"
MERGED_FROM_KEY = "salesforce_merged_from"
OUTCOME_MERGED = "merged"
OUTCOME_DELETED = "deleted"


class CaseEnding:
    def __init__(
        self,
        *,
        host: Host,
        client: SalesforceClient,
        index: CaseIndex,
        ledger: ReplyLedger,
        status: ReplyStatus,
        case_from_value: str,
        read_later: Callable[[str], Awaitable[object]],
    ) -> None:
        self._case_from_value = case_from_value
        self._host = host
        self._client = client
        self._index = index
        self._ledger = ledger
        self._status = status
        self._read_later = read_later  # queue a read of a Case (the survivor)

    async def follow_merge(self, case_id: str, entry: CaseEntry, master_id: str) -> int:
        """Move the sessions of ``case_id`` (merged away) to ``master_id``; the
        number of sessions moved (0 when the Case had ended before), or minus the
        number resolved when the survivor is another contact's Case."""
        if entry.closed:
            return 0  # closed (its sessions resolved) or already moved
        master = await self._index.case(master_id)
        if master is not None and _other_contact(master, entry):
            # Replies on the survivor go to its own contact's latest session; moving
            # another person's conversation there would show them that contact's
            # replies. Their conversation ends instead, saying why.
            return -await self._resolve(case_id, entry, OUTCOME_MERGED, merged_from=case_id)
        moved = [s for s in entry.sessions if await self._host.get_session(s) is not None]
        if master is None:
            await self._adopt(master_id)
        url = await self._client.record_url("Case", master_id)
        for session_id in moved:
            before = await self._index.session_case(session_id)
            ref = SessionCase(
                case_id=master_id,
                # The survivor was not created with this session's external id.
                external_id=None,
                generation=before.generation if before else 1,
            )
            await self._index.link_session(session_id, ref, entry.contact_key)
            await self._host.set_session_metadata(session_id, "salesforce_case_id", master_id)
            await self._host.set_session_metadata(session_id, "salesforce_case_url", url)
            await self._host.set_session_metadata(session_id, OUTCOME_KEY, OUTCOME_MERGED)
            await self._host.set_session_metadata(session_id, MERGED_FROM_KEY, case_id)
        if master is not None and master.closed:
            # Moved onto a Case already closed: they are resolved with it.
            pending = await self._ledger.pending_resolution(master_id)
            await self._ledger.set_pending_resolution(
                master_id, pending + [s for s in moved if s not in pending]
            )
        await self._index.mark_closed(case_id)
        self._status.sessions_moved += len(moved)
        log.info("Case %s merged into %s: %d session(s) moved", case_id, master_id, len(moved))
        await self._read_later(master_id)
        return len(moved)

    async def _adopt(self, master_id: str) -> None:
        """Mark a survivor the plugin did not make as the plugin's (Case_From__c)."""
        try:
            await self._client.update(
                "Case", master_id, {names.CASE_FROM_FIELD: self._case_from_value}
            )
        except (ValidationFailed, Forbidden, NotFound) as exc:
            # The sessions still move; only the webhooks for the survivor are lost,
            # and a notify read of it works all the same.
            self._status.skipped_records["survivor not marked as the plugin's"] += 1
            log.warning("Case %s: could not set %s: %s", master_id, names.CASE_FROM_FIELD, exc)

    async def follow_deletion(self, case_id: str, entry: CaseEntry) -> int:
        """Resolve the sessions of a deleted Case, once; how many were resolved."""
        return await self._resolve(case_id, entry, OUTCOME_DELETED)

    async def _resolve(
        self, case_id: str, entry: CaseEntry, outcome: str, *, merged_from: str | None = None
    ) -> int:
        """Resolve the Case's sessions once, ``outcome`` written on each first."""
        if not entry.closed:
            await self._ledger.set_pending_resolution(case_id, list(entry.sessions))
            await self._index.mark_closed(case_id)
        pending = await self._ledger.pending_resolution(case_id)
        for session_id in pending:
            if await self._host.get_session(session_id) is None:
                continue
            await self._host.set_session_metadata(session_id, OUTCOME_KEY, outcome)
            if merged_from is not None:
                await self._host.set_session_metadata(session_id, MERGED_FROM_KEY, merged_from)
            await self._host.resolve_session(session_id)
        if pending:
            self._status.sessions_resolved += len(pending)
            log.info("Case %s %s: resolved %d session(s)", case_id, outcome, len(pending))
            await self._ledger.clear_pending_resolution(case_id)
        return len(pending)


def _other_contact(master: CaseEntry, entry: CaseEntry) -> bool:
    """Whether the two Cases are known to belong to different contacts."""
    return bool(
        master.contact_key and entry.contact_key and master.contact_key != entry.contact_key
    )
