"""``org_has_email_message``: read from a Describe Global answer, so ``doctor`` can
tell whether the package may include its EmailMessage parts. Checked against the
documented answer shape here, and against the emulator's describe in
tests/emulator/platform/test_platform_describe_email.py."""

from __future__ import annotations

import json

import pytest

from opencx_salesforce.apex.org_features import org_has_email_message


def describe(*names: str) -> dict[str, object]:
    # The documented response shape. [src: api_rest dome_describeGlobal.htm]
    return {
        "encoding": "UTF-8",
        "maxBatchSize": 200,
        "sobjects": [{"name": name, "keyPrefix": None, "queryable": True} for name in names],
    }


def test_an_org_with_email_to_case_lists_email_message() -> None:
    assert org_has_email_message(describe("Account", "Case", "EmailMessage")) is True


def test_an_org_without_it_does_not() -> None:
    assert org_has_email_message(describe("Account", "Case", "CaseComment")) is False
    assert org_has_email_message(describe("EmailMessageRelation")) is False, "exact name"


def test_raw_json_text_and_bytes_are_read_too() -> None:
    raw = json.dumps(describe("Case", "EmailMessage"))
    assert org_has_email_message(raw) is True
    assert org_has_email_message(raw.encode()) is True


@pytest.mark.parametrize("bad", ["not json", "[]", '{"sobjects": {}}', b"\xff"])
def test_something_else_is_refused(bad: str | bytes) -> None:
    with pytest.raises(ValueError, match="Describe Global"):
        org_has_email_message(bad)
