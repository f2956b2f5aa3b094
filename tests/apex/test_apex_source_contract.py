"""What the Apex does, read from its parse tree: the webhook body and headers follow the
contract, the signature is computed the way contract.sign() computes it, the triggers
are thin and bulk-safe. (The parse tree is the real grammar's; the behaviour in an org
is what the generated Apex test class checks there.)"""

from __future__ import annotations

import json
import re

import pytest

from opencx_salesforce.apex import contract, names
from opencx_salesforce.apex.checker import ApexType, Method
from opencx_salesforce.emulator.package.model import RETRY_DELAYS_MINUTES

from .conftest import Rendered

_LITERAL_RE = re.compile(r"^'((?:[^'\\]|\\.)*)'$")


def apex_string(literal: str) -> str:
    """The value of an Apex string literal (the escapes the generator may write)."""
    match = _LITERAL_RE.match(literal.strip())
    assert match, f"not a string literal: {literal}"
    return re.sub(r"\\(.)", r"\1", match.group(1))


def callout_class(rendered: Rendered) -> ApexType:
    outline = rendered.parsed_file(f"classes/{names.CALLOUT_CLASS}.cls").outline
    assert outline is not None
    return outline["types"][0]


def method(apex_type: ApexType, name: str) -> Method:
    [found] = [m for m in apex_type["methods"] if m["name"] == name]
    return found


def constants(apex_type: ApexType) -> dict[str, str]:
    return {
        f["name"]: apex_string(f["initializer"])
        for f in apex_type["fields"]
        if f["initializer"] and f["initializer"].startswith("'")
    }


def test_class_is_a_queueable_that_may_call_out(package: Rendered) -> None:
    apex = callout_class(package)
    assert apex["name"] == names.CALLOUT_CLASS
    assert set(apex["implements"]) == {"Queueable", "Database.AllowsCallouts"}
    assert method(apex, "execute")["parameters"] == {"context": "QueueableContext"}


def test_event_names_endpoint_and_case_from_come_from_the_contract(package: Rendered) -> None:
    values = constants(callout_class(package))
    events = {value for name, value in values.items() if name.startswith("EVENT_")}
    if package.include_email:
        assert events == contract.EVENTS
    else:
        assert events == contract.EVENTS - contract.EMAIL_EVENTS
    for name, value in values.items():
        if name.startswith("EVENT_"):
            assert getattr(contract, name) == value, name
    assert values["ENDPOINT"] == "callout:OpenCX_Integration"
    assert values["CASE_FROM"] == package.case_from_value, "quotes survive the Apex literal"


def body_writes(apex: ApexType) -> list[tuple[str, str]]:
    """(JSON key, value expression) in the order toJson writes them."""
    writes = []
    for call in sorted(method(apex, "toJson")["calls"], key=lambda c: c["line"]):
        if call["name"] in ("writeStringField", "writeNullField"):
            writes.append(
                (apex_string(call["args"][0]), call["args"][1] if len(call["args"]) > 1 else "null")
            )
        elif call["name"] == "writeIdField":
            writes.append((apex_string(call["args"][1]), call["args"][2]))
    return writes


def test_json_body_has_exactly_the_contract_fields_in_order(package: Rendered) -> None:
    writes = body_writes(callout_class(package))
    # masterRecordId is written last, only for case.deleted (see the next test).
    assert [key for key, _ in writes] == list(contract.payload_fields(contract.EVENT_CASE_DELETED))
    to_json = method(callout_class(package), "toJson")
    source = package.source(f"classes/{names.CALLOUT_CLASS}.cls").read_text()
    lines = source.splitlines()[to_json["startLine"] - 1 : to_json["endLine"]]
    guard = "if (doorbell.eventName == EVENT_CASE_DELETED) {"
    assert guard in "\n".join(lines)
    assert (
        lines[[line.strip() for line in lines].index(guard) + 1]
        .strip()
        .startswith(
            f"writeIdField(generator, '{contract.FIELD_MASTER_RECORD_ID}', doorbell.masterRecordId)"
        )
    )
    expressions = dict(writes)
    assert expressions[contract.FIELD_ORG_ID] == "UserInfo.getOrganizationId()"
    assert (
        "formatGmt('yyyy-MM-dd\\'T\\'HH:mm:ss\\'Z\\'')" in expressions[contract.FIELD_OCCURRED_AT]
    )


@pytest.mark.parametrize(
    ("event_name", "record_id"),
    [
        (contract.EVENT_CASE_COMMENT_CREATED, "00a5e00000QwErTAAT"),
        (contract.EVENT_CASE_DELETED, "5005e00000XyZabAAB"),
    ],
)
def test_a_body_built_the_apex_way_passes_the_plugins_validator(
    package: Rendered, event_name: str, record_id: str
) -> None:
    # Evaluate toJson's writes for a sample event, the way JSONGenerator would.
    sample = {
        "doorbell.eventName": event_name,
        "UserInfo.getOrganizationId()": "00D5e000000AbCdEAF",
        "doorbell.caseId": "5005e00000XyZabAAB",
        "doorbell.recordId": record_id,
        "doorbell.masterRecordId": "5005e00000WiNnErAA",
    }
    body: dict[str, str] = {}
    for key, expression in body_writes(callout_class(package)):
        if key == contract.FIELD_MASTER_RECORD_ID and event_name != contract.EVENT_CASE_DELETED:
            continue  # behind the case.deleted guard
        if key == contract.FIELD_OCCURRED_AT:
            body[key] = "2026-11-25T01:40:00Z"
        else:
            body[key] = sample[expression]
    raw = json.dumps(body, separators=(",", ":")).encode()
    event = contract.parse_payload(raw)
    assert event.record_id == record_id


def test_headers_are_the_contract_headers(package: Rendered) -> None:
    send = method(callout_class(package), "send")
    headers = {
        apex_string(c["args"][0]): c["args"][1] for c in send["calls"] if c["name"] == "setHeader"
    }
    assert headers == {
        contract.HEADER_CONTENT_TYPE: f"'{contract.CONTENT_TYPE_JSON}'",
        contract.HEADER_TIMESTAMP: "timestamp",
        contract.HEADER_SIGNATURE: "signature(secret, timestamp, body)",
    }
    # The timestamp is unix seconds; the signature only when a secret is set.
    source = package.source(f"classes/{names.CALLOUT_CLASS}.cls").read_text()
    assert "String timestamp = String.valueOf(Datetime.now().getTime() / 1000);" in source
    assert "if (String.isNotBlank(secret)) {" in source


def test_signature_is_the_contract_scheme(package: Rendered) -> None:
    signature = method(callout_class(package), "signature")
    [mac] = [c for c in signature["calls"] if c["name"] == "generateMac"]
    assert mac["qualifier"] == "Crypto"
    assert apex_string(mac["args"][0]) == contract.APEX_MAC_ALGORITHM == "hmacSHA256"
    # input = timestamp + "." + body, key = the secret; both UTF-8 (Blob.valueOf).
    assert mac["args"][1] == f"Blob.valueOf(timestamp + '{contract.SIGNED_SEPARATOR}' + body)"
    assert mac["args"][2] == "Blob.valueOf(secret)"
    [hexed] = [c for c in signature["calls"] if c["name"] == "convertToHex"]
    assert (hexed["qualifier"], hexed["args"]) == ("EncodingUtil", ["mac"])
    source = package.source(f"classes/{names.CALLOUT_CLASS}.cls").read_text()
    assert f"return '{contract.SIGNATURE_VERSION}=' + EncodingUtil.convertToHex(mac);" in source


def test_apex_test_class_asserts_the_same_known_answer(package: Rendered) -> None:
    outline = package.parsed_file(f"classes/{names.TEST_CLASS}.cls").outline
    assert outline is not None
    test_type = outline["types"][0]
    known = method(test_type, "signatureMatchesThePluginsKnownAnswer")
    [computed] = [c for c in known["calls"] if c["name"] == "signature"]
    vector = contract.TEST_VECTOR
    assert [apex_string(a) for a in computed["args"]] == [
        vector.secret,
        vector.timestamp,
        vector.body,
    ]
    [expected] = [c for c in known["calls"] if c["name"] == "assertEquals"]
    assert apex_string(expected["args"][0]) == vector.signature
    assert contract.sign(vector.secret, vector.timestamp, vector.body) == vector.signature


def test_triggers_are_thin_and_call_public_static_entry_points(package: Rendered) -> None:
    apex = callout_class(package)
    # Each trigger event calls one entry point with what that event has.
    args_by_event = {
        "after insert": ["Trigger.new"],
        "after update": ["Trigger.new", "Trigger.oldMap"],
        "after delete": ["Trigger.old"],
    }
    triggers = names.triggers(include_email=package.include_email)
    for trigger_name, (sobject, events) in triggers.items():
        outline = package.parsed_file(f"triggers/{trigger_name}.trigger").outline
        assert outline is not None
        trigger = outline["trigger"]
        assert (trigger["name"], trigger["object"], tuple(trigger["events"])) == (
            trigger_name,
            sobject,
            events,
        )
        assert trigger["queries"] == [] and trigger["dml"] == [], "no SOQL or DML in a trigger"
        calls = trigger["calls"]
        assert len(calls) == len(events)
        assert sorted(call["args"] for call in calls) == sorted(args_by_event[e] for e in events)
        for call in calls:
            assert call["qualifier"] == names.CALLOUT_CLASS
            entry = method(apex, call["name"])
            assert {"public", "static"} <= set(entry["modifiers"])


def test_ping_is_public_static_and_synchronous(package: Rendered) -> None:
    ping = method(callout_class(package), "ping")
    assert {"public", "static"} <= set(ping["modifiers"])
    called = {c["name"] for c in ping["calls"]}
    assert "send" in called and "enqueueJob" not in called


def _calls_within_loops(m: Method) -> set[str]:
    inside = set()
    for call in m["calls"]:
        if call["qualifier"] is None and any(
            loop["startLine"] <= call["line"] <= loop["endLine"] for loop in m["loops"]
        ):
            inside.add(call["name"])
    return inside


def test_no_soql_dml_or_enqueue_inside_a_loop(package: Rendered) -> None:
    apex = callout_class(package)
    by_name = {m["name"]: m for m in apex["methods"]}

    def heavy(name: str, seen: frozenset[str] = frozenset()) -> bool:
        m = by_name.get(name)
        if m is None or name in seen:
            return False
        if m["queries"] or m["dml"] or any(c["name"] == "enqueueJob" for c in m["calls"]):
            return True
        return any(heavy(c["name"], seen | {name}) for c in m["calls"] if c["qualifier"] is None)

    for m in apex["methods"]:
        for query in m["queries"]:
            assert not any(
                loop["startLine"] <= query["line"] <= loop["endLine"] for loop in m["loops"]
            ), m["name"]
        looped = _calls_within_loops(m)
        # Inside execute's loop the callout itself is the point (one per event, capped).
        allowed = {"deliver", "mayCallOut"} if m["name"] == "execute" else set()
        assert not {name for name in looped - allowed if heavy(name)}, m["name"]
    queries = [q for m in apex["methods"] for q in m["queries"]]
    assert len(queries) == 1, "one SOQL query: the parent Cases, by Id set"
    assert ":caseIds" in queries[0]["text"] and ":CASE_FROM" in queries[0]["text"]
    enqueues = [c for m in apex["methods"] for c in m["calls"] if c["name"] == "enqueueJob"]
    assert {m["name"] for m in apex["methods"] for c in m["calls"] if c in enqueues} == {
        "ring",
        "chain",
    }


def test_the_callout_budget_respects_the_governor_limits(package: Rendered) -> None:
    source = package.source(f"classes/{names.CALLOUT_CLASS}.cls").read_text()
    # 100 callouts and 120 s of callout time per transaction. [src: apex_gov_limits.htm]
    assert "Limits.getCallouts() < Limits.getLimitCallouts()" in source
    assert "CALLOUT_TIME_BUDGET_MS = 120000;" in source
    assert "request.setTimeout(CALLOUT_TIMEOUT_MS);" in source


def test_a_failed_callout_is_retried_later_as_the_emulator_mirrors(package: Rendered) -> None:
    source = package.source(f"classes/{names.CALLOUT_CLASS}.cls").read_text()
    found = re.search(r"RETRY_DELAYS_MINUTES = new List<Integer>\{([^}]*)\}", source)
    assert found is not None
    delays = tuple(int(d) for d in found.group(1).split(","))
    assert delays == RETRY_DELAYS_MINUTES, "the emulator runs the retries the class makes"
    assert all(d >= 1 for d in delays) and list(delays) == sorted(delays)
    # The first job and its retries: five, the chain depth Developer Edition allows.
    # [src: apexcode apex_queueing_jobs.htm]
    assert len(delays) + 1 <= 5
    assert "options.MinimumQueueableDelayInMinutes = delayMinutes;" in source
    assert "System.enqueueJob(nextJob, options);" in source
