"""Builders shared by the composite tests: subrequests, records and a way to
count what an org holds without spending API calls."""

from __future__ import annotations

from typing import Any

from opencx_salesforce.emulator.org import Org

V = "/services/data/v62.0"


def sub(
    method: str,
    path: str,
    reference_id: str,
    body: Any = None,
    *,
    version: str = "62.0",
    **extra: Any,
) -> dict[str, Any]:
    """One composite subrequest (or graph node) on ``/services/data/v{version}/{path}``."""
    item: dict[str, Any] = {
        "method": method,
        "url": f"/services/data/v{version}/{path}",
        "referenceId": reference_id,
    }
    if body is not None:
        item["body"] = body
    item.update(extra)
    return item


def comment(parent: str, text: str, **attributes: Any) -> dict[str, Any]:
    return {
        "attributes": {"type": "CaseComment", **attributes},
        "ParentId": parent,
        "CommentBody": text,
    }


def live(org: Org, sobject: str) -> list[dict[str, Any]]:
    """The org's live records of ``sobject`` (read directly: no API call)."""
    return [record for record in org.records[sobject].values() if not record["IsDeleted"]]


def api_calls(org: Org) -> int:
    return org.api_calls.total
