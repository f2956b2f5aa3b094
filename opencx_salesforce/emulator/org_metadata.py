"""Tooling metadata: what a deployed package leaves in an org (Apex classes,
triggers, Named Credentials), as ``org.metadata``."""

from __future__ import annotations

import re
import zlib
from typing import TYPE_CHECKING

from opencx_salesforce.emulator.schema import TRIGGER_USAGES

if TYPE_CHECKING:
    from opencx_salesforce.emulator.org import Org, Record


class ToolingMetadata:
    """Deploys and undeploys metadata components of one org."""

    def __init__(self, org: Org) -> None:
        self._org = org

    def set_apex_class(
        self,
        name: str,
        body: str,
        *,
        status: str = "Active",
        is_valid: bool = True,
        api_version: float | None = None,
    ) -> str:
        """Deploy (or redeploy) an Apex class; returns its Id."""
        values = {
            "Name": name,
            "Body": body,
            "Status": status,
            "IsValid": is_valid,
            "ApiVersion": api_version or float(self._org.seed.api_version),
            "BodyCrc": float(zlib.crc32(body.encode())),
            "LengthWithoutComments": len(_strip_comments(body)),
            "NamespacePrefix": None,
        }
        return self._upsert("ApexClass", "Name", values)

    def set_apex_trigger(
        self,
        name: str,
        table: str,
        body: str,
        *,
        status: str = "Active",
        is_valid: bool = True,
        api_version: float | None = None,
    ) -> str:
        """Deploy (or redeploy) a trigger on ``table`` (e.g. "CaseComment"); its
        Usage* flags come from the trigger's event list."""
        header = re.search(r"\bon\s+\w+\s*\(([^)]*)\)", body, re.IGNORECASE)
        events = {" ".join(e.lower().split()) for e in header[1].split(",")} if header else set()
        values: Record = {
            "Name": name,
            "TableEnumOrId": table,
            "Body": body,
            "Status": status,
            "IsValid": is_valid,
            "ApiVersion": api_version or float(self._org.seed.api_version),
            "BodyCrc": float(zlib.crc32(body.encode())),
            "LengthWithoutComments": len(_strip_comments(body)),
            "NamespacePrefix": None,
            "UsageIsBulk": True,
        }
        for flag, event in TRIGGER_USAGES:
            values[flag] = event in events
        return self._upsert("ApexTrigger", "Name", values)

    def set_named_credential(
        self,
        developer_name: str,
        endpoint: str,
        *,
        label: str | None = None,
        principal_type: str = "Anonymous",
    ) -> str:
        values = {
            "DeveloperName": developer_name,
            "MasterLabel": label or developer_name,
            "Endpoint": endpoint,
            "PrincipalType": principal_type,
            "Language": "en_US",
            "NamespacePrefix": None,
        }
        return self._upsert("NamedCredential", "DeveloperName", values)

    def remove_metadata(self, sobject: str, name: str) -> None:
        """Undeploy: the component no longer exists."""
        key = "DeveloperName" if sobject == "NamedCredential" else "Name"
        for record in list(self._org.records[sobject].values()):
            if record[key] == name:
                self._org._put(sobject, record["Id"], None)

    def _upsert(self, sobject: str, key: str, values: Record) -> str:
        for record in self._org.records[sobject].values():
            if record[key] == values[key]:
                updated = {**record, **values}
                now = self._org.now()
                updated.update(LastModifiedDate=now, SystemModstamp=now)
                self._org._put(sobject, record["Id"], updated)
                return str(record["Id"])
        return self._org.insert(sobject, values, user_id=self._org.default_user_id)


def _strip_comments(body: str) -> str:
    return re.sub(r"//[^\n]*|/\*.*?\*/", "", body, flags=re.DOTALL)
