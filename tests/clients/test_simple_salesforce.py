"""simple-salesforce (the test extra's pin) against the emulator started with
``opencx-salesforce emulator --tls``: it builds ``https://`` URLs only (issue 21
finding 5). One test per operation, and the unsupported APIs raised as its own
exception classes with Salesforce's error code."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import requests
from clients_support import API_VERSION, RunningEmulator
from simple_salesforce import Salesforce, SalesforceLogin
from simple_salesforce.exceptions import (
    SalesforceAuthenticationFailed,
    SalesforceError,
    SalesforceResourceNotFound,
)


@pytest.fixture
def trust_emulator(emulator_tls: RunningEmulator, monkeypatch: pytest.MonkeyPatch) -> None:
    """requests trusts the CA named by REQUESTS_CA_BUNDLE (it wins over a session's
    ``verify``), as docs/emulator-clients.md tells users."""
    assert emulator_tls.ca_file
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", emulator_tls.ca_file)


@pytest.fixture
def sf(emulator_tls: RunningEmulator, trust_emulator: None) -> Iterator[Salesforce]:
    token = emulator_tls.token()
    session = requests.Session()
    try:
        yield Salesforce(
            instance_url=token["instance_url"],
            session_id=token["access_token"],
            version=API_VERSION,
            session=session,
        )
    finally:
        session.close()


def test_query(sf: Salesforce) -> None:
    sf.Case.create({"Subject": "seen by simple-salesforce"})
    result = sf.query("SELECT Id, Owner.Name FROM Case WHERE Subject = 'seen by simple-salesforce'")
    assert result["totalSize"] == 1
    assert result["records"][0]["Owner"]["Name"]


def test_create(sf: Salesforce, emulator_tls: RunningEmulator) -> None:
    result = sf.Case.create({"Subject": "made by simple-salesforce"})
    assert result["success"] is True
    assert emulator_tls.rest("GET", f"sobjects/Case/{result['id']}")["Subject"] == (
        "made by simple-salesforce"
    )


def test_get(sf: Salesforce, emulator_tls: RunningEmulator) -> None:
    case_id = emulator_tls.rest("POST", "sobjects/Case", {"Subject": "read"})["id"]
    assert sf.Case.get(case_id)["Subject"] == "read"


def test_update(sf: Salesforce, emulator_tls: RunningEmulator) -> None:
    case_id = emulator_tls.rest("POST", "sobjects/Case", {"Subject": "before"})["id"]
    assert sf.Case.update(case_id, {"Subject": "after"}) == 204
    assert emulator_tls.rest("GET", f"sobjects/Case/{case_id}")["Subject"] == "after"


def test_delete(sf: Salesforce, emulator_tls: RunningEmulator) -> None:
    case_id = emulator_tls.rest("POST", "sobjects/Case", {"Subject": "doomed"})["id"]
    assert sf.Case.delete(case_id) == 204
    with pytest.raises(SalesforceResourceNotFound) as raised:
        sf.Case.get(case_id)
    assert raised.value.status == 404


def test_describe(sf: Salesforce) -> None:
    result = sf.Case.describe()
    assert result["name"] == "Case"
    assert result["actionOverrides"] == []


def test_limits(sf: Salesforce) -> None:
    assert sf.limits()["DailyApiRequests"]["Max"] > 0


def test_tooling_query(sf: Salesforce) -> None:
    result = sf.toolingexecute("query/?q=SELECT+Id,Name+FROM+ApexClass")
    assert result["done"] is True


def test_sosl_search_raises_with_the_error_code(sf: Salesforce) -> None:
    with pytest.raises(SalesforceError) as raised:
        sf.search("FIND {x} RETURNING Case(Id)")
    assert raised.value.status == 403
    assert raised.value.content[0]["errorCode"] == "FUNCTIONALITY_NOT_ENABLED"


def test_bulk2_raises_with_the_error_code(sf: Salesforce) -> None:
    with pytest.raises(SalesforceError) as raised:
        list(sf.bulk2.Case.query("SELECT Id FROM Case"))  # a generator: run it
    assert raised.value.status == 400
    assert "FeatureNotEnabled" in str(raised.value)


def test_bulk_1_raises_with_the_exception_code(sf: Salesforce) -> None:
    with pytest.raises(SalesforceError) as raised:
        sf.bulk.Case.query("SELECT Id FROM Case")
    assert raised.value.status == 400
    assert raised.value.content["exceptionCode"] == "FeatureNotEnabled"


def test_soap_login_is_a_soap_fault(emulator_tls: RunningEmulator, trust_emulator: None) -> None:
    """simple-salesforce's username/password login is the SOAP login() call; it
    reads the fault's sf:exceptionCode."""
    with pytest.raises(SalesforceAuthenticationFailed) as raised:
        SalesforceLogin(
            username="admin@acme.example",
            password="admin-password",
            security_token="",
            scratch_url=emulator_tls.base_url,
        )
    assert raised.value.code == "FUNCTIONALITY_NOT_ENABLED"
    assert "log in with OAuth" in raised.value.auth_message
