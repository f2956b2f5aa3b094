"""What the reconciliation sweep watches (:mod:`.sweep`): three streams of
changes, each read ``ORDER BY SystemModstamp, Id`` from where the last sweep
stopped, and the state each keeps between sweeps."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from opencx_salesforce.replies.case_read import REPLY_EMAILS
from opencx_salesforce.salesforce import datetimes, soql

# How far behind the newest change each stream reads again on the next sweep.
OVERLAP = timedelta(seconds=60)


@dataclass(frozen=True)
class Stream:
    """One kind of change the sweep watches."""

    name: str
    case_field: str  # the field holding the Case Id
    sobject: str
    where: str  # beyond SystemModstamp; {case_from} is the quoted Case_From__c value

    def query(self, case_from: str, since: str, limit: int) -> str:
        where = self.where.format(case_from=soql.literal(case_from))
        fields = "Id, SystemModstamp" if self.case_field == "Id" else "Id, ParentId, SystemModstamp"
        return (
            f"SELECT {fields} FROM {self.sobject} "
            f"WHERE {where} AND SystemModstamp >= {datetimes.soql_literal(since)} "
            f"ORDER BY SystemModstamp, Id LIMIT {limit}"
        )


@dataclass(frozen=True)
class CaseStream(Stream):
    """The Cases, with ``queryAll`` (deleted and merged ones too) and their
    CreatedDate (a row never changed since it was created needs no read)."""

    def query(self, case_from: str, since: str, limit: int) -> str:
        where = self.where.format(case_from=soql.literal(case_from))
        return (
            f"SELECT Id, SystemModstamp, CreatedDate FROM {self.sobject} "
            f"WHERE {where} AND SystemModstamp >= {datetimes.soql_literal(since)} "
            f"ORDER BY SystemModstamp, Id LIMIT {limit}"
        )


STREAMS = (
    CaseStream("cases", "Id", "Case", "Case_From__c = {case_from}"),
    Stream(
        "comments",
        "ParentId",
        "CaseComment",
        "Parent.Case_From__c = {case_from} AND IsPublished = true",
    ),
    Stream(
        "emails",
        "ParentId",
        "EmailMessage",
        f"Parent.Case_From__c = {{case_from}} AND {REPLY_EMAILS}",
    ),
)


@dataclass
class StreamState:
    newest: str  # the newest SystemModstamp read (a Salesforce dateTime)
    seen: dict[str, str] = field(default_factory=dict)  # Id (15) -> SystemModstamp handled
    since: str = ""  # where the next query starts; set by the sweep

    def __post_init__(self) -> None:
        if not self.since:
            # Re-read the overlap behind the newest change.
            self.since = datetimes.api_format(datetimes.parse(self.newest) - OVERLAP)

    def saw(self, stamp: str) -> None:
        self.since = stamp
        if later(stamp, self.newest):
            self.newest = stamp

    def to_json(self) -> dict[str, Any]:
        floor = datetimes.parse(self.newest).replace(microsecond=0) - OVERLAP
        seen = {i: s for i, s in self.seen.items() if datetimes.parse(s) >= floor}
        return {"newest": self.newest, "seen": seen}


def later(a: str, b: str) -> bool:
    """Whether Salesforce dateTime ``a`` is after ``b``."""
    return datetimes.parse(a) > datetimes.parse(b)
