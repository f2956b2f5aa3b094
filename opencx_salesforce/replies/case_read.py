"""The one read per notification: the SOQL query that fetches Cases' state and
their public CaseComments and sent EmailMessages changed since the delivery
cursor (run with ``queryAll``, see :mod:`.service`), and how to recognise an org
that has no EmailMessage so the read can go on without it. The sweep
(:mod:`.sweep_streams`) reads reply emails with the same filter.
"""

from __future__ import annotations

from collections.abc import Sequence

from opencx_salesforce.replies.classify import CHILD_LIMIT, EMAIL_STATUS_DRAFT
from opencx_salesforce.salesforce import datetimes, soql
from opencx_salesforce.salesforce.errors import ApiError

COMMENT_FIELDS = (
    "Id, IsPublished, CommentBody, CreatedDate, SystemModstamp, CreatedById, "
    "CreatedBy.Name, CreatedBy.UserType"
)
EMAIL_FIELDS = (
    "Id, Incoming, Status, FromName, TextBody, CreatedDate, SystemModstamp, CreatedById, "
    "CreatedBy.Name, CreatedBy.UserType"
)
CASE_FIELDS = "Id, IsClosed, Status, IsDeleted, MasterRecordId, SystemModstamp"
# Drafts are left out of the read: a draft is not a reply, and sending it later
# changes its SystemModstamp, which brings it into the next read.
# [src: object_reference sforce_api_objects_emailmessage.htm, Status "5" Draft]
REPLY_EMAILS = f"Incoming = false AND Status != '{EMAIL_STATUS_DRAFT}'"


def case_query(case_ids: Sequence[str], since: str | None, *, emails: bool = True) -> str:
    """The one read per notification (run with ``queryAll``): the Cases' state
    and their replies changed from ``since`` (SystemModstamp, inclusive) on, in
    the order they changed. Children of a deleted Case (deleted with it) are left
    out: nothing on a Case the rep deleted is delivered. ``emails=False`` for an
    org without EmailMessage."""
    after = f" AND SystemModstamp >= {datetimes.soql_literal(since)}" if since else ""
    order = f"ORDER BY SystemModstamp, Id LIMIT {CHILD_LIMIT}"
    live = "IsDeleted = false"
    email_read = (
        f"(SELECT {EMAIL_FIELDS} FROM EmailMessages "
        f"WHERE {REPLY_EMAILS} AND {live}{after} {order}), "
        if emails
        else ""
    )
    return (
        f"SELECT {CASE_FIELDS}, "
        f"(SELECT {COMMENT_FIELDS} FROM CaseComments "
        f"WHERE IsPublished = true AND {live}{after} {order}), "
        f"{email_read}"
        f"FROM Case WHERE Id IN {soql.id_list(list(case_ids))}"
    ).replace(", FROM Case", " FROM Case")


def names_missing_email_message(error: ApiError) -> bool:
    """Whether Salesforce refused a query because the org has no EmailMessage
    (no Email-to-Case, no Enhanced Email: apex/org_features.py). The platform's
    answer: INVALID_TYPE, "Didn't understand relationship 'EmailMessages'" or
    "sObject type 'EmailMessage' is not supported"."""
    return error.error_code == "INVALID_TYPE" and "EmailMessage" in error.message
