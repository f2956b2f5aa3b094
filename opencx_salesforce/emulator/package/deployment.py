"""What of the package an org holds, read from its metadata records."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from opencx_salesforce.apex import names
from opencx_salesforce.emulator.package.model import apex_equals

if TYPE_CHECKING:
    from opencx_salesforce.emulator.org import Org, Record


@dataclass(frozen=True)
class Deployment:
    """What of the package the org holds right now."""

    apex_class: bool  # the callout class is there, Active
    triggers: Mapping[str, bool]  # trigger name -> there and Active
    endpoint: str | None  # the Named Credential's Endpoint; None when it is missing

    @property
    def complete(self) -> bool:
        return self.apex_class and all(self.triggers.values()) and self.endpoint is not None

    def as_dict(self) -> dict[str, Any]:
        return {
            "deployed": self.complete,
            "apexClass": self.apex_class,
            "triggers": dict(self.triggers),
            "namedCredentialEndpoint": self.endpoint,
        }


def deployment_of(org: Org) -> Deployment:
    """What of the package ``org`` holds (reads its metadata; installs nothing).

    A package generated without email (``--no-email``) has no EmailMessage code in
    its class and needs no EmailMessage trigger; the class body tells which."""
    record = metadata_record(org, "ApexClass", "Name", names.CALLOUT_CLASS)
    with_email = record is None or "EmailMessage" in str(record.get("Body") or "")
    expected = names.triggers(include_email=with_email)
    return Deployment(
        apex_class=is_active(org, "ApexClass", names.CALLOUT_CLASS),
        triggers={name: is_active(org, "ApexTrigger", name) for name in expected},
        endpoint=endpoint_of(org),
    )


def metadata_record(org: Org, sobject: str, key: str, name: str) -> Record | None:
    for record in org.records[sobject].values():
        if apex_equals(record.get(key), name):  # Apex names are case-insensitive
            return record
    return None


def is_active(org: Org, sobject: str, name: str) -> bool:
    record = metadata_record(org, sobject, "Name", name)
    return record is not None and record.get("Status") == "Active"


def endpoint_of(org: Org) -> str | None:
    record = metadata_record(org, "NamedCredential", "DeveloperName", names.NAMED_CREDENTIAL)
    return None if record is None else str(record.get("Endpoint") or "")
