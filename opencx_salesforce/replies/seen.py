"""Whether a read of a Case already saw a change, from the ledger alone (no API
call): what lets the sweep (:mod:`.sweep`) and the digest (:mod:`.digest`) skip a
change a doorbell's read already handled."""

from __future__ import annotations

from opencx_salesforce.apex import contract
from opencx_salesforce.replies.ledger import ReplyLedger
from opencx_salesforce.replies.sweep_streams import later


async def already_read(ledger: ReplyLedger, case_id: str, record_id: str, stamp: str) -> bool:
    """A change to the Case itself (``record_id`` is the Case) is seen when the
    last read of the Case saw its SystemModstamp ``stamp`` or a later one; a
    comment or email is seen when the Case's reply cursor is past it."""
    if record_id.startswith(contract.CASE_ID_PREFIX):
        seen = await ledger.case_stamp(case_id)
        return seen is not None and not later(stamp, seen)
    cursor = await ledger.cursor(case_id)
    return not cursor.is_behind(stamp, record_id)
