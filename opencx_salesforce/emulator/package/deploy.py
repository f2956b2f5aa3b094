"""``sf project deploy`` of the generated package into an emulated org."""

from __future__ import annotations

import tempfile
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import TYPE_CHECKING

from opencx_salesforce.apex import names
from opencx_salesforce.apex.render import render_package
from opencx_salesforce.emulator.package.runtime import ApexRuntime, apex_runtime
from opencx_salesforce.emulator.schema import custom_field
from opencx_salesforce.emulator.seed import CustomFieldSeed
from opencx_salesforce.errors import ConfigError

if TYPE_CHECKING:
    from opencx_salesforce.emulator.org import Org


def deploy_package(
    org: Org,
    webhook_url: str,
    signing_secret: str | None = None,
    *,
    case_from_value: str = names.DEFAULT_CASE_FROM_VALUE,
    include_email: bool = True,
    legacy_named_credential: bool = False,
    include_messaging: bool = False,
) -> ApexRuntime:
    """Deploy the generated package into ``org``, as ``sf project deploy`` would:
    the class, test class and triggers (Active, their real source), the Named
    Credential pointing at ``webhook_url`` (read from the generated XML, current or
    legacy form), and the signing secret. Inputs are checked as ``opencx-salesforce
    apex`` checks them (:class:`~opencx_salesforce.errors.ConfigError`).
    ``include_messaging``: the MessagingSession session-id field too, as its
    generated XML describes it; an org without Messaging refuses the deploy."""
    with tempfile.TemporaryDirectory(prefix="opencx-package-") as folder:
        out = Path(folder)
        written = render_package(
            out,
            webhook_url=webhook_url,
            signing_secret=signing_secret,
            api_version=org.seed.api_version,
            case_from_value=case_from_value,
            include_email=include_email,
            legacy_named_credential=legacy_named_credential,
            include_messaging=include_messaging,
        )
        sources = {path.name: path.read_text(encoding="utf-8") for path in written}
        fields = [p for p in written if p.parent.parent.name == names.MESSAGING_SESSION]
        messaging_fields = [p.read_text(encoding="utf-8") for p in fields]
    for class_name in (
        names.CALLOUT_CLASS,
        names.TEST_CLASS,
        names.DIGEST_CLASS,
        names.DIGEST_TEST_CLASS,
    ):
        org.metadata.set_apex_class(class_name, sources[f"{class_name}.cls"])
    for trigger, (table, _events) in names.triggers(include_email=include_email).items():
        org.metadata.set_apex_trigger(trigger, table, sources[f"{trigger}.trigger"])
    credential = sources[f"{names.NAMED_CREDENTIAL}.namedCredential-meta.xml"]
    org.metadata.set_named_credential(
        names.NAMED_CREDENTIAL, named_credential_url(credential), label="OpenCX Integration"
    )
    for source in messaging_fields:
        _deploy_field(org, names.MESSAGING_SESSION, source)
    runtime = apex_runtime(org)
    runtime.signing_secret = signing_secret
    runtime.case_from_value = case_from_value
    return runtime


_MD = "{http://soap.sforce.com/2006/04/metadata}"


def _deploy_field(org: Org, sobject: str, xml_source: str) -> None:
    """A Text CustomField from its metadata XML, onto ``sobject``. A deploy to an
    org without the object fails, as ``sf project deploy`` would (the message is
    the emulator's; the platform's wording is UNCONFIRMED).
    [src: api_meta customfield.htm: fullName, type, length, externalId, unique]"""
    if org.schema.get(sobject) is None:
        raise ConfigError(f"deploy failed: no object {sobject} in this org (is Messaging on?)")
    root = ET.fromstring(xml_source)
    name = root.findtext(f"{_MD}fullName") or ""
    org.add_custom_field(
        sobject,
        custom_field(
            CustomFieldSeed(
                sobject,
                name,
                "string",
                int(root.findtext(f"{_MD}length") or 255),
                label=root.findtext(f"{_MD}label"),
                external_id=root.findtext(f"{_MD}externalId") == "true",
                unique=root.findtext(f"{_MD}unique") == "true",
            )
        ),
    )


def named_credential_url(xml_source: str) -> str:
    """The URL of a NamedCredential metadata file, in either form: the legacy
    ``<endpoint>``, or the current ``namedCredentialParameters`` of type Url.
    [src: api_meta meta_namedcredential.htm]"""
    root = ET.fromstring(xml_source)
    legacy = root.findtext(f"{_MD}endpoint")
    if legacy:
        return legacy
    for parameter in root.findall(f"{_MD}namedCredentialParameters"):
        if parameter.findtext(f"{_MD}parameterType") == "Url":
            return parameter.findtext(f"{_MD}parameterValue") or ""
    raise ValueError("the Named Credential names no URL")


def custom_metadata_value(xml_source: str, field: str) -> str | None:
    """The value of ``field`` in a CustomMetadata record file (``<values>`` of
    ``<field>``/``<value>``), or None. [src: api_meta meta_custommetadata.htm]"""
    root = ET.fromstring(xml_source)
    for values in root.findall(f"{_MD}values"):
        if values.findtext(f"{_MD}field") == field:
            return values.findtext(f"{_MD}value")
    return None
