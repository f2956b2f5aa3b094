"""The digest class, read from its parse tree: it reads what the plugin's sweep reads,
sends the digest contract's body, schedules itself, and its tests reach it all. (In
an org, the generated OpenCXDigestTest checks the behaviour.)"""

from __future__ import annotations

import json
import re

from opencx_salesforce.apex import contract, digest_contract, names
from opencx_salesforce.apex.checker import ApexType, ParsedFile
from opencx_salesforce.apex.coverage import estimate_coverage
from opencx_salesforce.replies.case_read import REPLY_EMAILS

from .conftest import Rendered

PRODUCTION_MINIMUM = 75.0


def digest_class(rendered: Rendered) -> ApexType:
    outline = rendered.parsed_file(f"classes/{names.DIGEST_CLASS}.cls").outline
    assert outline is not None
    return outline["types"][0]


def code_files(rendered: Rendered) -> list[ParsedFile]:
    return [p for p in rendered.parsed.values() if p.kind != "anonymous"]


def test_every_method_of_the_digest_is_reached_by_its_tests(package: Rendered) -> None:
    estimate = estimate_coverage(names.DIGEST_CLASS, code_files(package))
    assert estimate.unreached_methods == ()
    assert estimate.percent >= PRODUCTION_MINIMUM


def test_it_queries_the_sweeps_three_streams_outside_any_loop(package: Rendered) -> None:
    apex = digest_class(package)
    [collect] = [m for m in apex["methods"] if m["name"] == "collect"]
    texts = {" ".join(q["text"].split()) for q in collect["queries"]}
    for query in collect["queries"]:
        assert not any(
            loop["startLine"] <= query["line"] <= loop["endLine"] for loop in collect["loops"]
        )
    expected = {
        "Case": "Case_From__c = :CASE_FROM AND SystemModstamp >= :since",
        "CaseComment": "Parent.Case_From__c = :CASE_FROM AND IsPublished = true",
    }
    if package.include_email:
        # The same filter as the plugin's reads (a bind for the draft status).
        expected["EmailMessage"] = REPLY_EMAILS.replace("'5'", ":EMAIL_STATUS_DRAFT")
    assert len(texts) == len(expected)
    for sobject, where in expected.items():
        [text] = [t for t in texts if f"FROM {sobject} " in t]
        assert where in text
        assert "ORDER BY SystemModstamp, Id LIMIT :rows" in text
    [cases] = [t for t in texts if "FROM Case " in t]
    assert cases.endswith("ALL ROWS ]"), "deleted and merged Cases too"


def test_the_body_is_the_digest_contract(package: Rendered) -> None:
    source = package.source(f"classes/{names.DIGEST_CLASS}.cls").read_text()
    written = re.findall(r"generator\.write(?:String|Boolean)Field\('([A-Za-z]+)'", source)
    written += re.findall(r"generator\.writeFieldName\('([A-Za-z]+)'", source)
    order = [contract.FIELD_EVENT, contract.FIELD_ORG_ID, digest_contract.FIELD_SINCE]
    order += [digest_contract.FIELD_UNTIL, digest_contract.FIELD_TRUNCATED]
    order += list(digest_contract.CHANGE_FIELDS)
    assert written == [*order, digest_contract.FIELD_CHANGES]
    assert f"formatGmt({digest_contract.STAMP_APEX_PATTERN!r})".replace('"', "'") in (
        source.replace("\\'", "'")
    )
    # A body of that shape passes the plugin's validator.
    body = {
        "event": "digest",
        "orgId": "00D5e000000AbCdEAF",
        "since": "2026-11-25T01:35:00.000Z",
        "until": "2026-11-25T01:40:00.000Z",
        "truncated": False,
        "changes": [
            {
                "caseId": "5005e00000XyZabAAB",
                "recordId": "00a5e00000QwErTAAT",
                "stamp": "2026-11-25T01:39:12.345Z",
            }
        ],
    }
    digest = digest_contract.parse_digest(json.loads(json.dumps(body)))
    assert digest.changes[0].record_id == "00a5e00000QwErTAAT"


def test_it_reschedules_itself_and_sends_through_the_callout_class(package: Rendered) -> None:
    apex = digest_class(package)
    assert set(apex["implements"]) >= {"Schedulable", "Queueable", "Database.AllowsCallouts"}
    by_name = {m["name"]: m for m in apex["methods"]}
    calls = {c["name"] for c in by_name["runScheduled"]["calls"]}
    assert {"scheduleNext", "abortJob", "enqueueJob"} <= calls
    assert "schedule" in {c["name"] for c in by_name["scheduleNext"]["calls"]}
    source = package.source(f"classes/{names.DIGEST_CLASS}.cls").read_text()
    assert (
        f"{names.CALLOUT_CLASS}.send(digest.toJson(), {names.CALLOUT_CLASS}.signingSecret())"
        in (source)
    )
    assert f"LOOKBACK_MINUTES = {digest_contract.LOOKBACK_MINUTES};" in source
    assert f"MAX_CHANGES = {digest_contract.MAX_CHANGES};" in source


def test_the_scripts_start_and_stop_it(package: Rendered) -> None:
    start = (package.root / "scripts/apex/start-digest.apex").read_text()
    stop = (package.root / "scripts/apex/stop-digest.apex").read_text()
    assert start.strip().endswith(f"{names.DIGEST_CLASS}.start();")
    assert stop.strip().endswith(f"{names.DIGEST_CLASS}.stop();")
