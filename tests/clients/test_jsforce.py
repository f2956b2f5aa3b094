"""jsforce (pinned in node/package.json) against the emulator started with
``opencx-salesforce emulator --tls``: one test per operation a developer uses to
look at their test org, and the unsupported APIs reported as Salesforce errors."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from clients_support import NODE_DIR, RunningEmulator, node_bin, run

Jsforce = Callable[..., dict[str, Any]]


@pytest.fixture(scope="module")
def jsforce(emulator_tls: RunningEmulator, tmp_path_factory: pytest.TempPathFactory) -> Jsforce:
    home = tmp_path_factory.mktemp("jsforce-home")
    token = emulator_tls.token()
    env = {
        **emulator_tls.client_env(home),
        "INSTANCE_URL": token["instance_url"],
        "ACCESS_TOKEN": token["access_token"],
    }
    node_bin("jsforce")  # fails with the install command when missing

    def call(operation: str, argument: Any = None) -> dict[str, Any]:
        args = ["node", str(NODE_DIR / "jsforce_ops.cjs"), operation]
        if argument is not None:
            args.append(json.dumps(argument))
        code, output = run(args, env, Path(home))
        assert code == 0, output
        return dict(output)

    return call


def ok(reply: dict[str, Any]) -> Any:
    assert "error" not in reply, reply
    return reply["result"]


def test_identity(jsforce: Jsforce, emulator_tls: RunningEmulator) -> None:
    """conn.identity() follows "identity" of Resources by Version (finding 3)."""
    identity = ok(jsforce("identity"))
    assert identity["organization_id"] == emulator_tls.org_id
    assert identity["username"]


def test_query(jsforce: Jsforce, emulator_tls: RunningEmulator) -> None:
    emulator_tls.rest("POST", "sobjects/Case", {"Subject": "seen by jsforce"})
    result = ok(
        jsforce(
            "query", {"soql": "SELECT Id, Owner.Name FROM Case WHERE Subject = 'seen by jsforce'"}
        )
    )
    assert result["totalSize"] == 1
    assert result["records"][0]["Owner"]["Name"]


def test_create(jsforce: Jsforce, emulator_tls: RunningEmulator) -> None:
    result = ok(jsforce("create", {"sobject": "Case", "record": {"Subject": "made by jsforce"}}))
    assert result["success"] is True
    assert emulator_tls.rest("GET", f"sobjects/Case/{result['id']}")["Subject"] == "made by jsforce"


def test_retrieve(jsforce: Jsforce, emulator_tls: RunningEmulator) -> None:
    case_id = emulator_tls.rest("POST", "sobjects/Case", {"Subject": "read by jsforce"})["id"]
    record = ok(jsforce("retrieve", {"sobject": "Case", "id": case_id}))
    assert record["Subject"] == "read by jsforce"


def test_update(jsforce: Jsforce, emulator_tls: RunningEmulator) -> None:
    case_id = emulator_tls.rest("POST", "sobjects/Case", {"Subject": "before"})["id"]
    result = ok(
        jsforce("update", {"sobject": "Case", "record": {"Id": case_id, "Subject": "after"}})
    )
    assert result["success"] is True
    assert emulator_tls.rest("GET", f"sobjects/Case/{case_id}")["Subject"] == "after"


def test_destroy(jsforce: Jsforce, emulator_tls: RunningEmulator) -> None:
    case_id = emulator_tls.rest("POST", "sobjects/Case", {"Subject": "doomed"})["id"]
    assert ok(jsforce("destroy", {"sobject": "Case", "id": case_id}))["success"] is True
    query = f"query?q=SELECT+Id+FROM+Case+WHERE+Id='{case_id}'"
    assert emulator_tls.rest("GET", query)["totalSize"] == 0


def test_describe(jsforce: Jsforce) -> None:
    result = ok(jsforce("describe", {"sobject": "Case"}))
    assert result["name"] == "Case"
    assert result["namedLayoutInfos"] == []
    assert "Subject" in {field["name"] for field in result["fields"]}


def test_limits(jsforce: Jsforce) -> None:
    assert ok(jsforce("limits"))["DailyApiRequests"]["Max"] > 0


def test_tooling_query(jsforce: Jsforce) -> None:
    result = ok(jsforce("toolingQuery", {"soql": "SELECT Id, Name FROM ApexClass"}))
    assert result["done"] is True


def test_sosl_search_is_a_salesforce_error(jsforce: Jsforce) -> None:
    error = jsforce("search", {"sosl": "FIND {x} RETURNING Case(Id)"})["error"]
    assert error["errorCode"] == "FUNCTIONALITY_NOT_ENABLED"
    assert "SOSL search" in error["message"]


def test_bulk2_is_a_salesforce_error(jsforce: Jsforce) -> None:
    error = jsforce("bulk2Query", {"soql": "SELECT Id FROM Case"})["error"]
    assert error["errorCode"] == "FeatureNotEnabled"
    assert "Bulk API 2.0 isn't enabled" in error["message"]


def test_apex_rest_without_a_class_is_not_found(jsforce: Jsforce) -> None:
    error = jsforce("apexRest", {"path": "/MyService/v1"})["error"]
    assert error["errorCode"] == "NOT_FOUND"
    assert "Could not find a match for URL" in error["message"]
