"""What a record on a Case is: a rep's public reply to deliver, or something to
skip (and why, for the settings page).

Only public replies written by the support team reach the contact:

* a CaseComment with IsPublished = true, created by an internal user
  (CreatedBy.UserType = 'Standard'; portal and community users are
  PowerCustomerSuccess, CspLitePortal, … [src: object_reference sforce_api_objects_user.htm,
  UserType]), and not one of the plugin's own transcript comments;
* an outgoing EmailMessage (Incoming = false, not a draft), its TextBody with the
  quoted history cut off.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

# Child rows read per Case per query; a Case with more waits for the next read.
CHILD_LIMIT = 200
# EmailMessage.Status "5" is Draft: not sent, so not a reply.
# [src: SALESFORCE.md §6 EmailMessage Status — codes UNCONFIRMED]
EMAIL_STATUS_DRAFT = "5"
# Internal users. [src: object_reference sforce_api_objects_user.htm, UserType]
INTERNAL_USER_TYPE = "Standard"


@dataclass(frozen=True)
class Reply:
    record_id: str
    created: str
    author: str
    text: str


@dataclass(frozen=True)
class Item:
    """One child record of the Case, reply or not."""

    record_id: str
    created: str
    reply: Reply | None
    skip_reason: str | None
    # SystemModstamp: when the record last changed (a draft sent, a comment made
    # public). Reads and cursors go by it, so a record that becomes a reply after
    # it was first read is read again then.
    stamp: str = ""

    def __post_init__(self) -> None:
        if not self.stamp:
            object.__setattr__(self, "stamp", self.created)


# Where a mail client starts quoting what it replies to.
_QUOTE_HEADERS = (
    re.compile(r"^\s*On .{1,300} wrote:\s*$"),
    re.compile(r"^\s*-{3,}\s*Original Message\s*-{3,}\s*$", re.IGNORECASE),
    re.compile(r"^\s*_{10,}\s*$"),  # Outlook's rule above "From: …"
)
# Salesforce's Email-to-Case thread id, legacy (ref:_00D…._500…:ref) and
# token-based (ref:!00D….!500….:ref). [src: help.salesforce.com
# support_email_to_case_threading.htm]
_THREAD_ID = re.compile(r"\[?\s*ref:[_!][0-9A-Za-z._!]+:ref\s*\]?")


def strip_quoted(text: str) -> str:
    """The new part of an email: everything above the quoted history."""
    kept: list[str] = []
    for line in text.replace("\r\n", "\n").split("\n"):
        if any(p.match(line) for p in _QUOTE_HEADERS):
            break
        kept.append(line)
    while kept and (not kept[-1].strip() or kept[-1].lstrip().startswith(">")):
        kept.pop()
    new = _THREAD_ID.sub("", "\n".join(kept)).strip()
    return new or _THREAD_ID.sub("", text).strip()


def _creator(record: Mapping[str, Any]) -> tuple[str | None, str | None]:
    created_by = record.get("CreatedBy") or {}
    return created_by.get("Name"), created_by.get("UserType")


def children(case: Mapping[str, Any], relationship: str) -> tuple[list[dict[str, Any]], bool]:
    """A child subquery's rows, and whether more exist than were returned."""
    result = case.get(relationship) or {}
    rows = list(result.get("records") or [])
    more = not result.get("done", True) or len(rows) >= CHILD_LIMIT
    return rows, more


def comment_body(record: Mapping[str, Any]) -> str:
    return (record.get("CommentBody") or "").strip()


def _stamp(record: Mapping[str, Any]) -> str:
    return str(record.get("SystemModstamp") or record["CreatedDate"])


def comment_item(record: Mapping[str, Any], *, own: bool) -> Item:
    """A CaseComment; ``own``: one of the plugin's transcript comments."""
    record_id, created = str(record["Id"]), str(record["CreatedDate"])
    name, user_type = _creator(record)
    body = comment_body(record)
    reason = None
    if record.get("IsPublished") is False:
        reason = "internal note"
    elif own:
        reason = "the plugin's own transcript"
    elif user_type != INTERNAL_USER_TYPE:
        reason = "not written by the support team"
    elif not body:
        reason = "empty"
    if reason is not None:
        return Item(record_id, created, None, reason, _stamp(record))
    reply = Reply(record_id, created, name or "Support", body)
    return Item(record_id, created, reply, None, _stamp(record))


def email_item(record: Mapping[str, Any]) -> Item:
    """An EmailMessage."""
    record_id, created = str(record["Id"]), str(record["CreatedDate"])
    name, user_type = _creator(record)
    text = strip_quoted(record.get("TextBody") or "")
    reason = None
    if record.get("Incoming") is True:
        reason = "incoming email"
    elif record.get("Status") == EMAIL_STATUS_DRAFT:
        reason = "draft email"
    elif user_type != INTERNAL_USER_TYPE:
        reason = "not written by the support team"
    elif not text:
        reason = "empty"
    if reason is not None:
        return Item(record_id, created, None, reason, _stamp(record))
    author = record.get("FromName") or name or "Support"
    return Item(record_id, created, Reply(record_id, created, author, text), None, _stamp(record))
