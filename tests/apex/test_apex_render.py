"""What render_package writes, and what it refuses."""

from __future__ import annotations

import json
import stat
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from opencx_salesforce.apex import apex_string_literal, names, render_package
from opencx_salesforce.errors import ConfigError

from .conftest import ODD_WEBHOOK_URL, SIGNING_SECRET, WEBHOOK_URL, Rendered

MD = "{http://soap.sforce.com/2006/04/metadata}"
RECORD = "force-app/main/default/customMetadata/OpenCX_Settings.Default.md-meta.xml"

EXPECTED_FILES = {
    "sfdx-project.json",
    "README.md",
    "scripts/apex/ping.apex",
    "scripts/apex/start-digest.apex",
    "scripts/apex/stop-digest.apex",
    "disconnect/package.xml",
    "disconnect/destructiveChanges.xml",
    "force-app/main/default/objects/Case/fields/Case_From__c.field-meta.xml",
    "force-app/main/default/objects/Case/fields/OpenCX_Session_Id__c.field-meta.xml",
    "force-app/main/default/objects/OpenCX_Settings__mdt/OpenCX_Settings__mdt.object-meta.xml",
    "force-app/main/default/objects/OpenCX_Settings__mdt/fields/Signing_Secret__c.field-meta.xml",
    "force-app/main/default/namedCredentials/OpenCX_Integration.namedCredential-meta.xml",
    "force-app/main/default/permissionsets/OpenCX_Integration.permissionset-meta.xml",
    "force-app/main/default/permissionsets/OpenCX_Webhook_Callout.permissionset-meta.xml",
    "force-app/main/default/externalCredentials/OpenCX_Webhook.externalCredential-meta.xml",
    "force-app/main/default/classes/OpenSalesforceCaseManagement.cls",
    "force-app/main/default/classes/OpenSalesforceCaseManagement.cls-meta.xml",
    "force-app/main/default/classes/OpenSalesforceCaseManagementTest.cls",
    "force-app/main/default/classes/OpenSalesforceCaseManagementTest.cls-meta.xml",
    "force-app/main/default/classes/OpenCXDigest.cls",
    "force-app/main/default/classes/OpenCXDigest.cls-meta.xml",
    "force-app/main/default/classes/OpenCXDigestTest.cls",
    "force-app/main/default/classes/OpenCXDigestTest.cls-meta.xml",
    "force-app/main/default/triggers/OpenCXCaseCommentTrigger.trigger",
    "force-app/main/default/triggers/OpenCXCaseCommentTrigger.trigger-meta.xml",
    "force-app/main/default/triggers/OpenCXEmailMessageTrigger.trigger",
    "force-app/main/default/triggers/OpenCXEmailMessageTrigger.trigger-meta.xml",
    "force-app/main/default/triggers/OpenCXCaseTrigger.trigger",
    "force-app/main/default/triggers/OpenCXCaseTrigger.trigger-meta.xml",
}


def relative_files(rendered: Rendered) -> set[str]:
    return {
        p.relative_to(rendered.root).as_posix() for p in rendered.root.rglob("*") if p.is_file()
    }


def test_signed_package_has_every_file_and_the_secret_record(
    packages: dict[str, Rendered],
) -> None:
    signed = packages["signed"]
    assert relative_files(signed) == EXPECTED_FILES | {RECORD}
    assert {p.relative_to(signed.root).as_posix() for p in signed.files} == EXPECTED_FILES | {
        RECORD
    }


def test_unsigned_package_has_no_secret_record(packages: dict[str, Rendered]) -> None:
    unsigned = packages["unsigned"]
    assert relative_files(unsigned) == EXPECTED_FILES
    destructive = (unsigned.root / "disconnect/destructiveChanges.xml").read_text()
    assert "<name>CustomMetadata</name>" not in destructive


def test_secret_lives_only_in_the_custom_metadata_record(packages: dict[str, Rendered]) -> None:
    signed = packages["signed"]
    holders = [p for p in signed.root.rglob("*") if p.is_file() and SIGNING_SECRET in p.read_text()]
    assert holders == [signed.root / RECORD]
    mode = stat.S_IMODE((signed.root / RECORD).stat().st_mode)
    assert mode == 0o600, "only the owner may read the secret"


def test_rendering_unsigned_over_a_signed_render_removes_the_secret(tmp_path: Path) -> None:
    render_package(tmp_path, webhook_url=WEBHOOK_URL, signing_secret=SIGNING_SECRET)
    assert (tmp_path / RECORD).exists()
    render_package(tmp_path, webhook_url=WEBHOOK_URL, signing_secret=None)
    assert not (tmp_path / RECORD).exists()


def test_sfdx_project_points_at_force_app(tmp_path: Path) -> None:
    render_package(tmp_path, webhook_url=WEBHOOK_URL, signing_secret=None, api_version="60.0")
    project = json.loads((tmp_path / "sfdx-project.json").read_text())
    assert project["packageDirectories"] == [{"path": "force-app", "default": True}]
    assert project["sourceApiVersion"] == "60.0"
    meta = ET.parse(
        tmp_path / "force-app/main/default/classes/OpenSalesforceCaseManagement.cls-meta.xml"
    )
    assert meta.getroot().findtext(f"{MD}apiVersion") == "60.0"


def test_webhook_url_with_query_characters_survives_xml(packages: dict[str, Rendered]) -> None:
    odd = packages["odd"]
    path = odd.source("namedCredentials/OpenCX_Integration.namedCredential-meta.xml")
    assert "&amp;" in path.read_text(), "the raw URL is escaped in the file"
    url = (
        ET.parse(path)
        .getroot()
        .find(f"{MD}namedCredentialParameters[{MD}parameterType='Url']/{MD}parameterValue")
    )
    assert url is not None and url.text == ODD_WEBHOOK_URL


def test_case_from_value_with_quotes_reaches_apex_and_xml_intact(
    packages: dict[str, Rendered],
) -> None:
    odd = packages["odd"]
    apex = odd.source("classes/OpenSalesforceCaseManagement.cls").read_text()
    assert f"CASE_FROM = {apex_string_literal(odd.case_from_value)};" in apex
    description = ET.parse(odd.source("objects/Case/fields/Case_From__c.field-meta.xml")).getroot()
    assert odd.case_from_value in (description.findtext(f"{MD}description") or "")


@pytest.mark.parametrize(
    ("value", "literal"),
    [("opencx", "'opencx'"), ("o'cx", "'o\\'cx'"), ("a\\b", "'a\\\\b'"), ("\\'", "'\\\\\\''")],
)
def test_apex_string_literal_escapes_quote_and_backslash(value: str, literal: str) -> None:
    assert apex_string_literal(value) == literal


def test_readme_gives_the_deploy_test_and_disconnect_commands(
    packages: dict[str, Rendered],
) -> None:
    readme = (packages["signed"].root / "README.md").read_text()
    assert "sf project deploy start --source-dir force-app --target-org my-org" in readme
    assert "--test-level RunSpecifiedTests --tests OpenSalesforceCaseManagementTest" in readme
    assert "sf apex run test --class-names OpenSalesforceCaseManagementTest" in readme
    assert "sf apex run --file scripts/apex/ping.apex" in readme
    assert "--post-destructive-changes disconnect/destructiveChanges.xml" in readme
    assert "External Credentials → New" in readme and "New Legacy" not in readme
    assert "sf org assign permset --name OpenCX_Webhook_Callout" in readme
    assert "The Named Credential is the **current** kind" in readme
    assert "This folder contains the signing secret" in readme
    unsigned = (packages["unsigned"].root / "README.md").read_text()
    assert "not set: calls go unsigned" in unsigned
    assert "This folder contains the signing secret" not in unsigned


def test_an_old_org_gets_no_email_code_and_the_legacy_named_credential(
    packages: dict[str, Rendered],
) -> None:
    old = packages["no-email-legacy"]
    files = relative_files(old)
    email_files = {f for f in EXPECTED_FILES if "EmailMessage" in f}
    new_model = {f for f in EXPECTED_FILES if "Webhook" in f}
    assert files == (EXPECTED_FILES - email_files - new_model) | {RECORD}
    for path in old.root.rglob("*.cls"):
        assert "EmailMessage" not in path.read_text(), path.name
    readme = (old.root / "README.md").read_text()
    assert "Setup → Named Credentials → New Legacy" in readme
    assert "generated with `--no-email`" in readme
    assert "The Named Credential is the **legacy** kind" in readme


def test_the_current_named_credential_needs_api_56(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="legacy"):
        render_package(tmp_path, webhook_url=WEBHOOK_URL, signing_secret=None, api_version="55.0")
    written = render_package(
        tmp_path,
        webhook_url=WEBHOOK_URL,
        signing_secret=None,
        api_version="55.0",
        legacy_named_credential=True,
    )
    assert not any("externalCredentials" in p.as_posix() for p in written)


def test_ping_script_calls_ping(packages: dict[str, Rendered]) -> None:
    script = (packages["signed"].root / "scripts/apex/ping.apex").read_text()
    assert f"{names.CALLOUT_CLASS}.ping();" in script


def test_custom_session_field_name_flows_everywhere(tmp_path: Path) -> None:
    files = render_package(
        tmp_path, webhook_url=WEBHOOK_URL, signing_secret=None, session_id_field="Chat_Key__c"
    )
    field = tmp_path / "force-app/main/default/objects/Case/fields/Chat_Key__c.field-meta.xml"
    assert field in files
    root = ET.parse(field).getroot()
    assert root.findtext(f"{MD}fullName") == "Chat_Key__c"
    assert root.findtext(f"{MD}label") == "Chat Key"
    permissions = (
        tmp_path / "force-app/main/default/permissionsets/OpenCX_Integration.permissionset-meta.xml"
    ).read_text()
    assert "<field>Case.Chat_Key__c</field>" in permissions


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"webhook_url": "ftp://bot.example.com/hook"}, "webhook_url: expected an http(s) URL"),
        ({"webhook_url": "https:///no-host"}, "webhook_url: expected an http(s) URL"),
        ({"webhook_url": "https://bot.example.com/a b"}, "webhook_url: must not contain spaces"),
        ({"webhook_url": "https://bot.example.com/h#frag"}, "webhook_url: a fragment"),
        ({"webhook_url": "https://bot.example.com/" + "a" * 1000}, "holds 1000"),
        ({"signing_secret": "short"}, "signing_secret: expected 16 to 255"),
        ({"signing_secret": "x" * 256}, "signing_secret: expected 16 to 255"),
        ({"signing_secret": "with space 0123456789"}, "signing_secret: use printable ASCII"),
        ({"signing_secret": "ünïcödé-0123456789"}, "signing_secret: use printable ASCII"),
        ({"api_version": "62"}, "api_version: expected"),
        ({"api_version": "50.0"}, "at least 51.0"),
        ({"case_from_value": ""}, "case_from_value: must be non-empty"),
        ({"case_from_value": " opencx"}, "leading or trailing spaces"),
        ({"case_from_value": "x" * 41}, "Case_From__c holds 40 characters, got 41"),
        ({"case_from_value": "open\ncx"}, "control characters"),
        ({"session_id_field": "OpenCX_Session_Id"}, "session_id_field: 'OpenCX_Session_Id'"),
        ({"session_id_field": "Open__Session__c"}, "is not a custom field API name"),
        ({"session_id_field": "1Session__c"}, "is not a custom field API name"),
        ({"session_id_field": "Session___c"}, "is not a custom field API name"),
        ({"session_id_field": "S" * 41 + "__c"}, "is not a custom field API name"),
        ({"session_id_field": "case_from__c"}, "must differ from Case_From__c"),
        ({"secret_visibility": "Private"}, "secret_visibility: expected 'Public' or 'Protected'"),
    ],
)
def test_bad_inputs_are_refused_with_the_argument_named(
    tmp_path: Path, overrides: dict[str, str], message: str
) -> None:
    arguments: dict[str, str | None] = {"webhook_url": WEBHOOK_URL, "signing_secret": None}
    arguments.update(overrides)
    with pytest.raises(ConfigError) as caught:
        render_package(tmp_path, **arguments)  # type: ignore[arg-type]
    assert message in str(caught.value)
    assert not any(tmp_path.iterdir()), "nothing is written when an input is refused"


def test_protected_visibility_is_available_for_managed_packaging(tmp_path: Path) -> None:
    render_package(
        tmp_path,
        webhook_url=WEBHOOK_URL,
        signing_secret=SIGNING_SECRET,
        secret_visibility="Protected",
    )
    settings = ET.parse(
        tmp_path
        / "force-app/main/default/objects/OpenCX_Settings__mdt/OpenCX_Settings__mdt.object-meta.xml"
    ).getroot()
    assert settings.findtext(f"{MD}visibility") == "Protected"
    record = ET.parse(tmp_path / RECORD).getroot()
    assert record.findtext(f"{MD}protected") == "true"


def test_live_messaging_adds_the_session_id_field_to_messaging_session(tmp_path: Path) -> None:
    field = "force-app/main/default/objects/MessagingSession/fields/OpenCX_Session_Id__c"
    plain = render_package(tmp_path / "plain", webhook_url=WEBHOOK_URL, signing_secret=None)
    assert not any("MessagingSession" in str(p) for p in plain)
    assert "MessagingSession" not in (tmp_path / "plain/README.md").read_text()

    out = tmp_path / "live"
    render_package(out, webhook_url=WEBHOOK_URL, signing_secret=None, include_messaging=True)
    root = ET.parse(out / f"{field}.field-meta.xml").getroot()
    assert root.findtext(f"{MD}fullName") == "OpenCX_Session_Id__c"
    assert root.findtext(f"{MD}type") == "Text"
    assert root.findtext(f"{MD}externalId") == "true"
    # One conversation may reach a live agent more than once: not unique.
    assert root.findtext(f"{MD}unique") == "false"
    assert names.MESSAGING_SESSION_ID_PARAMETER in (root.findtext(f"{MD}description") or "")
    permissions = ET.parse(
        out / "force-app/main/default/permissionsets/OpenCX_Integration.permissionset-meta.xml"
    ).getroot()
    granted = [p.findtext(f"{MD}field") for p in permissions.iter(f"{MD}fieldPermissions")]
    assert "MessagingSession.OpenCX_Session_Id__c" in granted
    readme = (out / "README.md").read_text()
    assert "objects/MessagingSession/fields/OpenCX_Session_Id__c" in readme
