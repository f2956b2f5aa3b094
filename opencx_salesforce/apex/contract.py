"""The webhook contract: what the generated Apex sends and the plugin's route accepts.

One source of truth (DESIGN.md, "The webhook contract"). The Apex templates take every
event name, field name, header name and the signature scheme from here, and the
plugin's webhook validator is meant to import the same names, so the two sides cannot
drift apart silently::

    POST {public_url}/integrations/salesforce/webhook/{webhook_token}
    Content-Type: application/json
    X-OpenCX-Timestamp: 1764030000                       (unix seconds)
    X-OpenCX-Signature: v1=<hex HMAC-SHA256(secret, timestamp + "." + raw body)>
                                                         (only when a signing secret is set)
    {"event": ..., "orgId": "00D…", "caseId": "500…", "recordId": "…",
     "occurredAt": "2026-11-25T01:40:00Z"}
    (a "case.deleted" body also carries "masterRecordId": "500…" or null)

The body only rings the bell: the plugin reads what changed from Salesforce with its
own token, so nothing here is trusted beyond "something happened on this Case".
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final

# -- events -----------------------------------------------------------------------------

EVENT_CASE_COMMENT_CREATED: Final = "case_comment.created"
EVENT_EMAIL_MESSAGE_CREATED: Final = "email_message.created"
EVENT_CASE_UPDATED: Final = "case.updated"
# An EmailMessage that was a draft (Status '5') left the draft state: it was sent.
EVENT_EMAIL_MESSAGE_SENT: Final = "email_message.sent"
# A CaseComment created private had IsPublished switched on.
EVENT_CASE_COMMENT_PUBLISHED: Final = "case_comment.published"
# A Case was deleted, by hand or by losing a merge (then masterRecordId names the
# surviving Case). [src: apexcode apex_triggers_merge_statements.htm]
EVENT_CASE_DELETED: Final = "case.deleted"
# Sent by OpenSalesforceCaseManagement.ping() (``doctor`` runs it through
# executeAnonymous): proves the Named Credential, the URL and the secret end to end.
EVENT_PING: Final = "ping"

EVENTS: Final = frozenset(
    {
        EVENT_CASE_COMMENT_CREATED,
        EVENT_CASE_COMMENT_PUBLISHED,
        EVENT_EMAIL_MESSAGE_CREATED,
        EVENT_EMAIL_MESSAGE_SENT,
        EVENT_CASE_UPDATED,
        EVENT_CASE_DELETED,
        EVENT_PING,
    }
)
# The events about EmailMessage records: left out of a package generated for an org
# without Email-to-Case or Enhanced Email (no EmailMessage object there).
EMAIL_EVENTS: Final = frozenset({EVENT_EMAIL_MESSAGE_CREATED, EVENT_EMAIL_MESSAGE_SENT})

# -- body fields ------------------------------------------------------------------------

FIELD_EVENT: Final = "event"
FIELD_ORG_ID: Final = "orgId"
FIELD_CASE_ID: Final = "caseId"
FIELD_RECORD_ID: Final = "recordId"
FIELD_OCCURRED_AT: Final = "occurredAt"
# Only in "case.deleted" bodies: the surviving Case's Id when the deleted Case lost a
# merge, else null. A hint, like the rest of the body: the plugin confirms it by
# reading the deleted Case (queryAll: IsDeleted, MasterRecordId) with its own token.
FIELD_MASTER_RECORD_ID: Final = "masterRecordId"

# Every body carries exactly these keys, in this order (order is not significant to
# the receiver; the Apex writes them in this order).
PAYLOAD_FIELDS: Final = (
    FIELD_EVENT,
    FIELD_ORG_ID,
    FIELD_CASE_ID,
    FIELD_RECORD_ID,
    FIELD_OCCURRED_AT,
)

# Fields some events carry after PAYLOAD_FIELDS, in this order.
EVENT_EXTRA_FIELDS: Final[dict[str, tuple[str, ...]]] = {
    EVENT_CASE_DELETED: (FIELD_MASTER_RECORD_ID,),
}


def payload_fields(event: str) -> tuple[str, ...]:
    """The keys a body for ``event`` carries, in the order the Apex writes them."""
    return PAYLOAD_FIELDS + EVENT_EXTRA_FIELDS.get(event, ())


# A ping concerns no record: these two are JSON null in a ping, and only there.
PING_NULL_FIELDS: Final = (FIELD_CASE_ID, FIELD_RECORD_ID)

# Key prefix of the record each event names (the first three characters of an Id).
# [src: SALESFORCE.md §6 key prefixes; emulator/ids.py KEY_PREFIXES]
ORG_ID_PREFIX: Final = "00D"
CASE_ID_PREFIX: Final = "500"
RECORD_ID_PREFIX: Final = {
    EVENT_CASE_COMMENT_CREATED: "00a",  # CaseComment
    EVENT_EMAIL_MESSAGE_CREATED: "02s",  # EmailMessage
    EVENT_CASE_UPDATED: CASE_ID_PREFIX,  # the Case itself
    EVENT_CASE_COMMENT_PUBLISHED: "00a",
    EVENT_EMAIL_MESSAGE_SENT: "02s",
    EVENT_CASE_DELETED: CASE_ID_PREFIX,  # the deleted Case
}

# occurredAt is UTC to the second with a literal Z, e.g. "2026-11-25T01:40:00Z".
OCCURRED_AT_STRFTIME: Final = "%Y-%m-%dT%H:%M:%SZ"
# The same format as an Apex Datetime.formatGmt() pattern (Java SimpleDateFormat rules).
OCCURRED_AT_APEX_PATTERN: Final = "yyyy-MM-dd'T'HH:mm:ss'Z'"

# -- headers and signature --------------------------------------------------------------

HEADER_CONTENT_TYPE: Final = "Content-Type"
CONTENT_TYPE_JSON: Final = "application/json"
HEADER_TIMESTAMP: Final = "X-OpenCX-Timestamp"
HEADER_SIGNATURE: Final = "X-OpenCX-Signature"

SIGNATURE_VERSION: Final = "v1"
# The algorithm name Apex's Crypto.generateMac() takes for HMAC-SHA256.
APEX_MAC_ALGORITHM: Final = "hmacSHA256"
# What is signed: the timestamp header's value, a dot, then the raw body bytes.
SIGNED_SEPARATOR: Final = "."

# How far a timestamp may be from the receiver's clock before the call is refused.
DEFAULT_TIMESTAMP_TOLERANCE_SECONDS: Final = 300

_ID_RE = re.compile(r"^[0-9A-Za-z]{15}(?:[0-9A-Za-z]{3})?$")


def signed_message(timestamp: str | int, body: str | bytes) -> bytes:
    """The bytes the signature covers: ``timestamp + "." + body`` (UTF-8).

    Apex builds the same bytes with ``Blob.valueOf(timestamp + '.' + body)``;
    ``Blob.valueOf(String)`` encodes as UTF-8."""
    raw_body = body.encode("utf-8") if isinstance(body, str) else body
    return str(timestamp).encode("ascii") + SIGNED_SEPARATOR.encode("ascii") + raw_body


def sign(secret: str, timestamp: str | int, body: str | bytes) -> str:
    """The ``X-OpenCX-Signature`` header value: ``v1=<lowercase hex HMAC-SHA256>``.

    The reference implementation of what the generated Apex computes with
    ``Crypto.generateMac('hmacSHA256', Blob.valueOf(timestamp + '.' + body),
    Blob.valueOf(secret))`` and ``EncodingUtil.convertToHex`` (lowercase hex)."""
    digest = hmac.new(secret.encode("utf-8"), signed_message(timestamp, body), hashlib.sha256)
    return f"{SIGNATURE_VERSION}={digest.hexdigest()}"


def signature_matches(secret: str, timestamp: str, body: bytes, header_value: str) -> bool:
    """Whether ``header_value`` is the signature of ``body`` at ``timestamp``,
    compared in constant time."""
    # Bytes, not str: compare_digest refuses non-ASCII text, and a forged header
    # may hold any characters. A wrong encoding is simply a wrong signature.
    given = header_value.strip().encode("utf-8", "surrogateescape")
    return hmac.compare_digest(sign(secret, timestamp, body).encode("ascii"), given)


def timestamp_is_fresh(
    header_value: str,
    now: datetime,
    tolerance_seconds: int = DEFAULT_TIMESTAMP_TOLERANCE_SECONDS,
) -> bool:
    """Whether the ``X-OpenCX-Timestamp`` value is unix seconds within the tolerance
    of ``now`` (either side: the org's clock may run ahead)."""
    # ASCII digits, and no more than a unix time has: int() of a 400-digit value
    # works, but comparing it with a float overflows.
    if not header_value.isascii() or not header_value.isdigit() or len(header_value) > 12:
        return False
    return abs(now.timestamp() - int(header_value)) <= tolerance_seconds


@dataclass(frozen=True)
class SignatureVector:
    secret: str
    timestamp: str
    body: str
    signature: str


# A known answer, computed independently (``openssl dgst -sha256 -hmac``), that the
# Python ``sign`` must reproduce and the generated Apex test class asserts in the org.
TEST_VECTOR: Final = SignatureVector(
    secret="whsec_test_0123456789abcdef",
    timestamp="1764030000",
    body=(
        '{"event":"ping","orgId":"00D000000000001AAA","caseId":null,'
        '"recordId":null,"occurredAt":"2026-11-25T01:40:00Z"}'
    ),
    signature="v1=d8ef2231b5d418c9bb14f58ae6f4208e14891afdebb0416bcdc62bf74100f404",
)


# -- reading a body ---------------------------------------------------------------------


class ContractViolation(ValueError):
    """A webhook body that does not follow the contract. The message is the reason,
    fit for the 400 answer's JSON body."""


@dataclass(frozen=True)
class WebhookEvent:
    event: str
    org_id: str
    case_id: str | None
    record_id: str | None
    occurred_at: datetime
    # case.deleted only: the Case the deleted one was merged into, if it was.
    master_record_id: str | None = None


def parse_payload(body: bytes) -> WebhookEvent:
    """Validate a raw webhook body against the contract.

    Raises :class:`ContractViolation` naming the first problem found."""
    return parse_event(decode_json(body))


def decode_json(body: bytes) -> Any:
    """The body's JSON, or :class:`ContractViolation` saying why it is not."""
    try:
        return json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ContractViolation(f"body is not JSON: {exc}") from None
    except ValueError:
        # A plain ValueError: an integer past Python's 4,300-digit conversion
        # limit. No field of the contract is a number.
        raise ContractViolation("body is not JSON the contract allows: a number too long") from None
    except RecursionError:
        raise ContractViolation("body is not JSON the contract allows: nested too deep") from None


def parse_event(data: Any) -> WebhookEvent:
    """Validate a decoded doorbell body (see :func:`parse_payload`)."""
    if not isinstance(data, dict):
        raise ContractViolation("body must be a JSON object")
    if FIELD_EVENT not in data:
        raise ContractViolation(f"missing field(s): {FIELD_EVENT}")
    event = data[FIELD_EVENT]
    if not isinstance(event, str) or event not in EVENTS:
        raise ContractViolation(f"{FIELD_EVENT}: unknown event {event!r}")
    expected = payload_fields(event)
    exact_keys(data, expected)

    org_id = _require_id(data, FIELD_ORG_ID, ORG_ID_PREFIX)
    if event == EVENT_PING:
        for name in PING_NULL_FIELDS:
            if data[name] is not None:
                raise ContractViolation(f"{name}: must be null in a {EVENT_PING}")
        case_id = record_id = None
    else:
        case_id = _require_id(data, FIELD_CASE_ID, CASE_ID_PREFIX)
        record_id = _require_id(data, FIELD_RECORD_ID, RECORD_ID_PREFIX[event])
    master_record_id = None
    if FIELD_MASTER_RECORD_ID in expected and data[FIELD_MASTER_RECORD_ID] is not None:
        master_record_id = _require_id(data, FIELD_MASTER_RECORD_ID, CASE_ID_PREFIX)
    return WebhookEvent(
        event=event,
        org_id=org_id,
        case_id=case_id,
        record_id=record_id,
        occurred_at=_require_occurred_at(data),
        master_record_id=master_record_id,
    )


def exact_keys(data: dict[str, Any], expected: Sequence[str], where: str = "") -> None:
    """``data`` has every key of ``expected`` and no other; ``where`` names the
    object inside the body (a digest's change), none for the body itself."""
    inside = f"{where}: " if where else ""
    missing = [name for name in expected if name not in data]
    if missing:
        raise ContractViolation(f"{inside}missing field(s): {', '.join(missing)}")
    unknown = sorted(set(data) - set(expected))
    if unknown:
        raise ContractViolation(f"{inside}unknown field(s): {', '.join(unknown)}")


def _require_id(data: dict[str, object], name: str, prefix: str) -> str:
    return require_id(data, name, (prefix,))


def require_id(data: dict[str, object], name: str, prefixes: tuple[str, ...]) -> str:
    """``data[name]`` if it is a Salesforce Id starting with one of ``prefixes``."""
    value = data[name]
    if not isinstance(value, str) or not _ID_RE.match(value):
        raise ContractViolation(f"{name}: expected a 15- or 18-character Salesforce Id")
    if not value.startswith(prefixes):
        wanted = " or ".join(repr(p) for p in prefixes)
        raise ContractViolation(f"{name}: expected an Id starting with {wanted}")
    return value


def _require_occurred_at(data: dict[str, object]) -> datetime:
    value = data[FIELD_OCCURRED_AT]
    if not isinstance(value, str):
        raise ContractViolation(f"{FIELD_OCCURRED_AT}: expected a string")
    try:
        parsed = datetime.strptime(value, OCCURRED_AT_STRFTIME)
    except ValueError:
        raise ContractViolation(
            f"{FIELD_OCCURRED_AT}: expected UTC like 2026-11-25T01:40:00Z"
        ) from None
    return parsed.replace(tzinfo=UTC)
