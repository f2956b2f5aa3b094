"""The digest: what the package's scheduled job sends once a minute, on the same
webhook route, authentication and signature as a doorbell (:mod:`.contract`)::

    {"event": "digest", "orgId": "00D…",
     "since": "2026-11-25T01:35:00.000Z", "until": "2026-11-25T01:40:00.000Z",
     "truncated": false,
     "changes": [{"caseId": "500…", "recordId": "00a…", "stamp": "2026-11-25T01:39:12.345Z"}]}

Each change is one row of the plugin's own sweep streams
(:mod:`opencx_salesforce.replies.sweep_streams`) found by the org between
``since`` and ``until``: a public CaseComment or a sent EmailMessage
(``recordId`` is the child; ``stamp`` its SystemModstamp), or the Case itself
changed after its creation (``recordId`` is the Case). The stamp lets the
plugin tell, from its own ledger and without an API call, whether a read has
already seen the change. ``truncated`` says a query hit its row limit: the list is
not all. An empty ``changes`` is the heartbeat: the job ran and found nothing.

Like a doorbell, a digest proves nothing by itself: the plugin reads what changed
with its own token.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final

from opencx_salesforce.apex import contract

EVENT_DIGEST: Final = "digest"

FIELD_SINCE: Final = "since"
FIELD_UNTIL: Final = "until"
FIELD_TRUNCATED: Final = "truncated"
FIELD_CHANGES: Final = "changes"
FIELD_STAMP: Final = "stamp"

# The keys of a digest body and of one change, in the order the Apex writes them.
DIGEST_FIELDS: Final = (
    contract.FIELD_EVENT,
    contract.FIELD_ORG_ID,
    FIELD_SINCE,
    FIELD_UNTIL,
    FIELD_TRUNCATED,
    FIELD_CHANGES,
)
CHANGE_FIELDS: Final = (contract.FIELD_CASE_ID, contract.FIELD_RECORD_ID, FIELD_STAMP)

# What a change's recordId may be: the Case, a CaseComment or an EmailMessage.
CHANGE_RECORD_PREFIXES: Final = ("500", "00a", "02s")

# Stamps carry milliseconds (SystemModstamp has them), UTC with a literal Z.
STAMP_STRFTIME: Final = "%Y-%m-%dT%H:%M:%S.%fZ"
STAMP_APEX_PATTERN: Final = "yyyy-MM-dd'T'HH:mm:ss.SSS'Z'"
_STAMP_RE = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$")

# How far back each run of the digest looks: it runs about every minute, so a
# change is listed by about five runs, and a run whose callout failed is covered by
# the next ones.
LOOKBACK_MINUTES: Final = 5

# The most changes one digest lists (the Apex stops there and sets truncated):
# 500 changes of about 90 bytes stay well under the webhook's 64 KiB body limit.
MAX_CHANGES: Final = 500


@dataclass(frozen=True)
class DigestChange:
    case_id: str
    record_id: str
    stamp: str  # as sent, e.g. "2026-11-25T01:39:12.345Z" (datetimes.parse reads it)

    @property
    def is_case(self) -> bool:
        return self.record_id.startswith(contract.CASE_ID_PREFIX)


@dataclass(frozen=True)
class Digest:
    org_id: str
    since: datetime
    until: datetime
    truncated: bool
    changes: tuple[DigestChange, ...]


def is_digest(data: Any) -> bool:
    return isinstance(data, dict) and data.get(contract.FIELD_EVENT) == EVENT_DIGEST


def parse_digest(data: dict[str, Any]) -> Digest:
    """Validate a decoded digest body. Raises :class:`contract.ContractViolation`
    naming the first problem found."""
    contract.exact_keys(data, DIGEST_FIELDS)
    org_id = _id(data, contract.FIELD_ORG_ID, (contract.ORG_ID_PREFIX,), "")
    since = _stamp(data, FIELD_SINCE, "")
    until = _stamp(data, FIELD_UNTIL, "")
    if until < since:
        raise contract.ContractViolation(f"{FIELD_UNTIL}: before {FIELD_SINCE}")
    truncated = data[FIELD_TRUNCATED]
    if not isinstance(truncated, bool):
        raise contract.ContractViolation(f"{FIELD_TRUNCATED}: expected true or false")
    raw = data[FIELD_CHANGES]
    if not isinstance(raw, list):
        raise contract.ContractViolation(f"{FIELD_CHANGES}: expected a list")
    if len(raw) > MAX_CHANGES:
        raise contract.ContractViolation(f"{FIELD_CHANGES}: more than {MAX_CHANGES}")
    changes = []
    for index, item in enumerate(raw):
        where = f"{FIELD_CHANGES}[{index}]"
        if not isinstance(item, dict):
            raise contract.ContractViolation(f"{FIELD_CHANGES}[{index}]: expected an object")
        contract.exact_keys(item, CHANGE_FIELDS, where)
        case_id = _id(item, contract.FIELD_CASE_ID, (contract.CASE_ID_PREFIX,), where)
        record_id = _id(item, contract.FIELD_RECORD_ID, CHANGE_RECORD_PREFIXES, where)
        if record_id.startswith(contract.CASE_ID_PREFIX) and record_id[:15] != case_id[:15]:
            raise contract.ContractViolation(f"{where}.{contract.FIELD_RECORD_ID}: another Case")
        _stamp(item, FIELD_STAMP, where)
        changes.append(DigestChange(case_id, record_id, str(item[FIELD_STAMP])))
    return Digest(org_id, since, until, truncated, tuple(changes))


def _field(where: str) -> str:
    """The prefix naming a field of ``where`` (a change), or none at the top."""
    return f"{where}." if where else ""


def _id(data: dict[str, Any], name: str, prefixes: tuple[str, ...], where: str) -> str:
    try:
        return contract.require_id(data, name, prefixes)
    except contract.ContractViolation as exc:
        raise contract.ContractViolation(f"{_field(where)}{exc}") from None


def _stamp(data: dict[str, Any], name: str, where: str) -> datetime:
    value = data[name]
    if not isinstance(value, str) or not _STAMP_RE.match(value):
        raise contract.ContractViolation(
            f"{_field(where)}{name}: expected UTC with milliseconds like 2026-11-25T01:40:00.000Z"
        )
    try:
        return datetime.strptime(value, STAMP_STRFTIME).replace(tzinfo=UTC)
    except ValueError:
        raise contract.ContractViolation(
            f"{_field(where)}{name}: not a real date and time"
        ) from None
