"""Fields the platform computes from others when an org stores a record: the
Case number sequence, Case IsClosed / ClosedDate / Contact* fields, and the
Name of Contacts and Users."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from opencx_salesforce.emulator.org import Org, Record

# The first Case gets number 00001000: an eight-digit auto-number starting at 1000
# (Salesforce's default Case Number display format). UNCONFIRMED start value.
CASE_NUMBER_START = 1000
CASE_NUMBER_DIGITS = 8


class CaseNumbers:
    """The org's Case Number auto-number; a restore rewinds it."""

    def __init__(self) -> None:
        self.next_value = CASE_NUMBER_START

    def take(self) -> str:
        number = str(self.next_value).zfill(CASE_NUMBER_DIGITS)
        self.next_value += 1
        return number


def derive(org: Org, sobject: str, record: Record, before: Record | None, now: str) -> None:
    """Fill the fields the platform computes from others in ``record``."""
    if sobject == "Case":
        _derive_case(org, record, before, now)
    elif sobject in {"Contact", "User"}:
        parts = [record.get("FirstName"), record.get("LastName")]
        record["Name"] = " ".join(part for part in parts if part) or None


def status_is_closed(org: Org, status: Any) -> bool:
    return any(name == status and closed for name, closed in org.seed.case_statuses)


def _derive_case(org: Org, record: Record, before: Record | None, now: str) -> None:
    if before is None:
        record["CaseNumber"] = org.case_numbers.take()
    # IsClosed follows the CaseStatus of the Status value; ClosedDate is set when
    # the case closes and cleared when it reopens.
    # [src: object_reference sforce_api_objects_case.htm IsClosed, ClosedDate]
    closed = status_is_closed(org, record.get("Status"))
    record["IsClosed"] = closed
    if before is None:
        record["IsClosedOnCreate"] = closed
        record["ClosedDate"] = now if closed else None
    elif closed and not before.get("IsClosed"):
        record["ClosedDate"] = now
    elif not closed:
        record["ClosedDate"] = None
    contact = org.live("Contact", record["ContactId"]) if record.get("ContactId") else None
    record["ContactEmail"] = contact.get("Email") if contact else None
    record["ContactPhone"] = contact.get("Phone") if contact else None
    record["ContactMobile"] = contact.get("MobilePhone") if contact else None
    record["ContactFax"] = None
