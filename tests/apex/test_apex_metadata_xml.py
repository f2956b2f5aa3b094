"""Every generated XML file is well-formed Metadata API source with documented element
names, and says what the package needs (field types, external id, the Named Credential)."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from opencx_salesforce.apex import names

from .conftest import Rendered

NS = "http://soap.sforce.com/2006/04/metadata"
MD = "{" + NS + "}"
XSI_TYPE = "{http://www.w3.org/2001/XMLSchema-instance}type"

# Element names each metadata type documents, for the elements this package writes.
# [src: developer.salesforce.com api_meta customfield.htm, customobject.htm /
#  meta_custommetadatatypes.htm, meta_custommetadata.htm, meta_namedcredential.htm,
#  meta_permissionset.htm, meta_classes.htm, meta_triggers.htm, manifest_samples.htm,
#  meta_externalcredential.htm (ExternalCredential, ExternalCredentialParameter),
#  meta_namedcredential.htm (NamedCredentialParameter, namedCredentialType);
#  cross-checked against the metadata WSDL as jsforce types it]
DOCUMENTED: dict[str, dict[str, set[str]]] = {
    "CustomField": {
        "": {
            "fullName",
            "caseSensitive",
            "defaultValue",
            "description",
            "externalId",
            "fieldManageability",
            "inlineHelpText",
            "label",
            "length",
            "required",
            "type",
            "unique",
        },
    },
    "CustomObject": {"": {"description", "label", "pluralLabel", "visibility"}},
    "CustomMetadata": {
        "": {"description", "label", "protected", "values"},
        "values": {"field", "value"},
    },
    "NamedCredential": {
        "": {
            "allowMergeFieldsInBody",
            "allowMergeFieldsInHeader",
            "calloutStatus",
            "endpoint",
            "generateAuthorizationHeader",
            "label",
            "namedCredentialParameters",
            "namedCredentialType",
            "principalType",
            "protocol",
        },
        "namedCredentialParameters": {
            "externalCredential",
            "parameterName",
            "parameterType",
            "parameterValue",
        },
    },
    "ExternalCredential": {
        "": {"authenticationProtocol", "description", "externalCredentialParameters", "label"},
        "externalCredentialParameters": {
            "parameterGroup",
            "parameterName",
            "parameterType",
            "parameterValue",
            "sequenceNumber",
        },
    },
    "PermissionSet": {
        "": {
            "description",
            "externalCredentialPrincipalAccesses",
            "fieldPermissions",
            "hasActivationRequired",
            "label",
        },
        "fieldPermissions": {"editable", "field", "readable"},
        "externalCredentialPrincipalAccesses": {"enabled", "externalCredentialPrincipal"},
    },
    "ApexClass": {"": {"apiVersion", "status"}},
    "ApexTrigger": {"": {"apiVersion", "status"}},
    "Package": {"": {"types", "version"}, "types": {"members", "name"}},
}

# File suffix -> the root element the Metadata API expects for it.
ROOT_BY_SUFFIX = {
    ".field-meta.xml": "CustomField",
    ".object-meta.xml": "CustomObject",
    ".md-meta.xml": "CustomMetadata",
    ".namedCredential-meta.xml": "NamedCredential",
    ".externalCredential-meta.xml": "ExternalCredential",
    ".permissionset-meta.xml": "PermissionSet",
    ".cls-meta.xml": "ApexClass",
    ".trigger-meta.xml": "ApexTrigger",
    "package.xml": "Package",
    "destructiveChanges.xml": "Package",
}


def local(tag: str) -> str:
    assert tag.startswith(MD), f"{tag} is outside the metadata namespace"
    return tag[len(MD) :]


def expected_root(path: Path) -> str:
    for suffix, root in ROOT_BY_SUFFIX.items():
        if path.name.endswith(suffix):
            return root
    raise AssertionError(f"unexpected XML file {path}")


def xml_files(rendered: Rendered) -> list[Path]:
    return sorted(p for p in rendered.root.rglob("*.xml"))


def test_every_xml_file_is_documented_metadata(package: Rendered) -> None:
    files = xml_files(package)
    # 4 field/object files, Named Credential, permission set, 4 class (the callout
    # class, the digest, their tests) and 3 trigger meta files (2 without email), 2
    # disconnect manifests, the secret record when there is a secret, and with the
    # current Named Credential model the External Credential and the callout
    # permission set.
    expected = 15 + (package.signing_secret is not None)
    expected -= not package.include_email
    expected += 2 * (not package.legacy_named_credential)
    assert len(files) == expected
    for path in files:
        root = ET.parse(path).getroot()  # raises on malformed XML
        root_name = local(root.tag)
        assert root_name == expected_root(path), path
        allowed = DOCUMENTED[root_name]
        for child in root:
            name = local(child.tag)
            assert name in allowed[""], (
                f"{path.name}: <{name}> is not a documented {root_name} element"
            )
            for grandchild in child:
                assert local(grandchild.tag) in allowed[name], (
                    f"{path.name}: <{name}>/<{grandchild.tag}>"
                )


def field(rendered: Rendered, name: str) -> dict[str, str]:
    root = ET.parse(rendered.source(f"objects/Case/fields/{name}.field-meta.xml")).getroot()
    return {local(child.tag): (child.text or "") for child in root}


def test_case_from_field_is_text_40(package: Rendered) -> None:
    case_from = field(package, names.CASE_FROM_FIELD)
    assert case_from["fullName"] == "Case_From__c"
    assert (case_from["type"], case_from["length"]) == ("Text", "40")
    assert case_from["externalId"] == "false"


def test_session_field_is_a_unique_case_insensitive_external_id(package: Rendered) -> None:
    session = field(package, names.DEFAULT_SESSION_ID_FIELD)
    assert session["fullName"] == "OpenCX_Session_Id__c"
    assert (session["type"], session["length"]) == ("Text", "255")
    assert (session["externalId"], session["unique"], session["caseSensitive"]) == (
        "true",
        "true",
        "false",
    )


@pytest.mark.parametrize("variant", ["signed", "unsigned", "odd"])
def test_named_credential_is_current_with_an_external_credential_for_no_auth(
    packages: dict[str, Rendered], variant: str
) -> None:
    package = packages[variant]
    assert not package.legacy_named_credential
    root = ET.parse(
        package.source("namedCredentials/OpenCX_Integration.namedCredential-meta.xml")
    ).getroot()
    values = {local(child.tag): child.text for child in root}
    assert values["namedCredentialType"] == "SecuredEndpoint"
    assert values["generateAuthorizationHeader"] == "false"
    assert "endpoint" not in values and "protocol" not in values, "no legacy fields"
    parameters = {
        p.findtext(f"{MD}parameterType"): {local(c.tag): c.text for c in p}
        for p in root.findall(f"{MD}namedCredentialParameters")
    }
    assert parameters["Url"]["parameterValue"] == package.webhook_url
    assert parameters["Authentication"]["externalCredential"] == names.EXTERNAL_CREDENTIAL

    external = ET.parse(
        package.source(
            f"externalCredentials/{names.EXTERNAL_CREDENTIAL}.externalCredential-meta.xml"
        )
    ).getroot()
    assert external.findtext(f"{MD}authenticationProtocol") == "Custom"
    [principal] = external.findall(f"{MD}externalCredentialParameters")
    assert principal.findtext(f"{MD}parameterType") == "NamedPrincipal"
    assert principal.findtext(f"{MD}parameterName") == names.EXTERNAL_CREDENTIAL_PRINCIPAL
    assert not [
        p
        for p in external.findall(f"{MD}externalCredentialParameters")
        if p.findtext(f"{MD}parameterType") == "AuthParameter"
    ], "no authentication parameters"

    callout = ET.parse(
        package.source(f"permissionsets/{names.CALLOUT_PERMISSION_SET}.permissionset-meta.xml")
    ).getroot()
    [access] = callout.findall(f"{MD}externalCredentialPrincipalAccesses")
    assert access.findtext(f"{MD}enabled") == "true"
    assert access.findtext(f"{MD}externalCredentialPrincipal") == (
        f"{names.EXTERNAL_CREDENTIAL}-{names.EXTERNAL_CREDENTIAL_PRINCIPAL}"
    )


def test_named_credential_is_legacy_anonymous_to_the_webhook(
    packages: dict[str, Rendered],
) -> None:
    package = packages["no-email-legacy"]
    assert package.legacy_named_credential
    root = ET.parse(
        package.source("namedCredentials/OpenCX_Integration.namedCredential-meta.xml")
    ).getroot()
    values = {local(child.tag): child.text for child in root}
    assert not package.source("externalCredentials").exists()
    assert values["endpoint"] == package.webhook_url
    assert values["principalType"] == "Anonymous"
    assert values["protocol"] == "NoAuthentication"
    assert values["generateAuthorizationHeader"] == "false"
    assert values["label"] == "OpenCX Integration"


def test_settings_type_and_record(package: Rendered) -> None:
    settings_dir = package.source("objects/OpenCX_Settings__mdt")
    settings = ET.parse(settings_dir / "OpenCX_Settings__mdt.object-meta.xml").getroot()
    assert settings.findtext(f"{MD}visibility") == "Public"
    secret_field = ET.parse(settings_dir / "fields/Signing_Secret__c.field-meta.xml").getroot()
    assert secret_field.findtext(f"{MD}type") == "Text"
    assert secret_field.findtext(f"{MD}length") == "255"
    record_path = package.source("customMetadata/OpenCX_Settings.Default.md-meta.xml")
    if package.signing_secret is None:
        assert not record_path.exists()
        return
    record = ET.parse(record_path).getroot()
    assert record.findtext(f"{MD}label") == "Default"
    value = record.find(f"{MD}values/{MD}value")
    assert record.findtext(f"{MD}values/{MD}field") == "Signing_Secret__c"
    assert value is not None and value.text == package.signing_secret
    assert value.get(XSI_TYPE) == "xsd:string"


def test_apex_meta_files_are_active_at_the_api_version(package: Rendered) -> None:
    metas = sorted(package.root.rglob("*.cls-meta.xml")) + sorted(
        package.root.rglob("*.trigger-meta.xml")
    )
    assert len(metas) == 4 + len(names.triggers(include_email=package.include_email))
    for path in metas:
        root = ET.parse(path).getroot()
        assert root.findtext(f"{MD}apiVersion") == "62.0"
        assert root.findtext(f"{MD}status") == "Active"


def test_permission_set_grants_both_case_fields(package: Rendered) -> None:
    root = ET.parse(
        package.source("permissionsets/OpenCX_Integration.permissionset-meta.xml")
    ).getroot()
    granted = {
        p.findtext(f"{MD}field"): (p.findtext(f"{MD}readable"), p.findtext(f"{MD}editable"))
        for p in root.findall(f"{MD}fieldPermissions")
    }
    assert granted == {
        "Case.Case_From__c": ("true", "true"),
        "Case.OpenCX_Session_Id__c": ("true", "true"),
    }


def test_disconnect_removes_code_and_secret_but_keeps_case_fields(package: Rendered) -> None:
    root = ET.parse(package.root / "disconnect/destructiveChanges.xml").getroot()
    removed = {
        (t.findtext(f"{MD}name"), m.text)
        for t in root.findall(f"{MD}types")
        for m in t.findall(f"{MD}members")
    }
    triggers = names.triggers(include_email=package.include_email)
    assert {("ApexTrigger", t) for t in triggers} <= removed
    assert (("ApexTrigger", names.EMAIL_MESSAGE_TRIGGER) in removed) is package.include_email
    if not package.legacy_named_credential:
        assert ("ExternalCredential", names.EXTERNAL_CREDENTIAL) in removed
        assert ("PermissionSet", names.CALLOUT_PERMISSION_SET) in removed
    assert ("ApexClass", names.CALLOUT_CLASS) in removed
    assert ("NamedCredential", names.NAMED_CREDENTIAL) in removed
    assert ("CustomObject", names.SETTINGS_TYPE) in removed
    assert not any(kind == "CustomField" for kind, _ in removed), "Cases keep their data"
    empty = ET.parse(package.root / "disconnect/package.xml").getroot()
    assert [local(child.tag) for child in empty] == ["version"]
