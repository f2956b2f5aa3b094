"""The webhook contract's Python side: the signature reference and the body validator."""

from __future__ import annotations

import hashlib
import hmac
import json
from datetime import UTC, datetime

import pytest

from opencx_salesforce.apex import contract

ORG_ID = "00D5e000000AbCdEAF"
CASE_ID = "5005e00000XyZabAAB"
COMMENT_ID = "00a5e00000QwErTAAT"


def body(**overrides: object) -> bytes:
    payload: dict[str, object] = {
        "event": "case_comment.created",
        "orgId": ORG_ID,
        "caseId": CASE_ID,
        "recordId": COMMENT_ID,
        "occurredAt": "2026-11-25T01:40:00Z",
    }
    payload.update(overrides)
    return json.dumps(payload).encode()


def test_sign_reproduces_the_independently_computed_vector() -> None:
    vector = contract.TEST_VECTOR
    assert contract.sign(vector.secret, vector.timestamp, vector.body) == vector.signature


def test_sign_is_hmac_sha256_over_timestamp_dot_body() -> None:
    expected = hmac.new(b"k" * 20, b"1700000000.{}", hashlib.sha256).hexdigest()
    assert contract.sign("k" * 20, 1700000000, b"{}") == "v1=" + expected


def test_signature_matches_rejects_a_changed_body_timestamp_or_secret() -> None:
    vector = contract.TEST_VECTOR
    raw = vector.body.encode()
    assert contract.signature_matches(vector.secret, vector.timestamp, raw, vector.signature)
    assert not contract.signature_matches(
        vector.secret, vector.timestamp, raw + b" ", vector.signature
    )
    assert not contract.signature_matches(vector.secret, "1764030001", raw, vector.signature)
    assert not contract.signature_matches(
        "other-secret-0000", vector.timestamp, raw, vector.signature
    )


def test_the_vector_body_is_itself_a_valid_ping() -> None:
    event = contract.parse_payload(contract.TEST_VECTOR.body.encode())
    assert event.event == contract.EVENT_PING
    assert event.case_id is None and event.record_id is None


@pytest.mark.parametrize(
    ("header", "fresh"),
    [
        ("1764030000", True),
        ("1764030299", True),
        ("1764029701", True),
        ("1764030301", False),
        ("17640300.0", False),
        ("-1764030000", False),
        ("", False),
    ],
)
def test_timestamp_window(header: str, fresh: bool) -> None:
    now = datetime.fromtimestamp(1764030000, UTC)
    assert contract.timestamp_is_fresh(header, now) is fresh


def test_parse_payload_reads_a_comment_event() -> None:
    event = contract.parse_payload(body())
    assert event == contract.WebhookEvent(
        event="case_comment.created",
        org_id=ORG_ID,
        case_id=CASE_ID,
        record_id=COMMENT_ID,
        occurred_at=datetime(2026, 11, 25, 1, 40, tzinfo=UTC),
    )


def test_case_updated_names_the_case_itself() -> None:
    event = contract.parse_payload(body(event="case.updated", recordId=CASE_ID))
    assert event.record_id == event.case_id == CASE_ID


def test_case_deleted_carries_the_merge_winner_or_null() -> None:
    winner = "5005e00000WiNnErAAB"[:18]
    merged = contract.parse_payload(
        body(event="case.deleted", recordId=CASE_ID, masterRecordId=winner)
    )
    assert (merged.case_id, merged.record_id, merged.master_record_id) == (CASE_ID, CASE_ID, winner)
    deleted = contract.parse_payload(
        body(event="case.deleted", recordId=CASE_ID, masterRecordId=None)
    )
    assert deleted.master_record_id is None


def test_new_events_name_their_records() -> None:
    published = contract.parse_payload(body(event="case_comment.published"))
    assert published.record_id == COMMENT_ID
    email_id = "02s5e00000AbCdEAAT"
    sent = contract.parse_payload(body(event="email_message.sent", recordId=email_id))
    assert sent.record_id == email_id


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (b"not json", "not JSON"),
        (b"[1]", "JSON object"),
        (json.dumps({"event": "ping"}).encode(), "missing field(s): orgId"),
        (body(extra=1), "unknown field(s): extra"),
        (body(event="case.exploded"), "unknown event"),
        (body(event="case.deleted", recordId=CASE_ID), "missing field(s): masterRecordId"),
        (body(masterRecordId=None), "unknown field(s): masterRecordId"),
        (
            body(event="case.deleted", recordId=CASE_ID, masterRecordId=COMMENT_ID),
            "masterRecordId: expected an Id starting with '500'",
        ),
        (body(event="email_message.sent"), "starting with '02s'"),
        (body(orgId="001000000000001"), "starting with '00D'"),
        (body(caseId=None), "caseId"),
        (body(recordId=CASE_ID), "starting with '00a'"),
        (body(event="email_message.created"), "starting with '02s'"),
        (body(recordId="00a!"), "15- or 18-character"),
        (body(occurredAt="2026-11-25 01:40:00"), "occurredAt"),
        (body(occurredAt=1764030000), "occurredAt"),
        (body(event="ping", caseId=CASE_ID, recordId=None), "must be null in a ping"),
    ],
)
def test_parse_payload_names_the_problem(raw: bytes, reason: str) -> None:
    with pytest.raises(contract.ContractViolation, match=None) as caught:
        contract.parse_payload(raw)
    assert reason in str(caught.value)


def test_payload_fields_and_events_are_the_designed_ones() -> None:
    # DESIGN.md "The webhook contract"; a change here is a change of contract.
    assert contract.PAYLOAD_FIELDS == ("event", "orgId", "caseId", "recordId", "occurredAt")
    designed_events = {
        "case_comment.created",
        "case_comment.published",
        "email_message.created",
        "email_message.sent",
        "case.updated",
        "case.deleted",
        "ping",
    }
    assert designed_events == contract.EVENTS
    assert contract.payload_fields("case.deleted") == (*contract.PAYLOAD_FIELDS, "masterRecordId")
    assert (contract.HEADER_TIMESTAMP, contract.HEADER_SIGNATURE) == (
        "X-OpenCX-Timestamp",
        "X-OpenCX-Signature",
    )
