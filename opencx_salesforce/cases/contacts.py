"""The Contact a Case is linked to: reading the handoff's Contact lookup and,
with ``create_contacts``, making a Contact when none matched.

The lookup itself rides in the handoff's composite call (:mod:`.plan`), or, in a
batch, goes beside the graphs (:mod:`.batch`); :func:`looked_up` reads its
answer, which the handoff keeps in the :class:`.index.CaseIndex` (a match with
the session's link, a miss for a day) so the next handoff of the same person
needs no lookup.
"""

from __future__ import annotations

import logging

from opencx_salesforce.cases import plan
from opencx_salesforce.cases.index import CaseIndex
from opencx_salesforce.models import Session
from opencx_salesforce.salesforce.client import SalesforceClient
from opencx_salesforce.salesforce.subrequests import SubResponse

log = logging.getLogger(__name__)


def looked_up(response: SubResponse | None) -> str | None:
    """The lookup's answer: the matching Contact's Id, ``""`` when none
    matched, ``None`` when the lookup failed (it is tried again next time)."""
    if response is None or not response.ok:
        return None
    records = response.body.get("records") or []
    return str(records[0]["Id"]) if records else ""


async def create_contact(
    client: SalesforceClient, index: CaseIndex, session: Session, key: str, case_id: str
) -> None:
    """``create_contacts``: no Contact matched, so make one and link the Case
    to it, in one more composite call (a first-seen contact only). The
    contact key is locked by the caller, so two handoffs of one person
    never make two Contacts."""
    requests = plan.new_contact_requests(session.contact, case_id)
    responses = await client.composite(requests, all_or_none=False) if requests else []
    created = responses[0] if responses else None
    if created is not None and created.ok:
        await index.remember_contact_match(key, str(created.body["id"]))
    else:
        log.warning(
            "could not create a Contact for session %s: %s",
            session.id,
            plan.describe_error(created) if created else "no answer",
        )
