"""The Versions resource (``GET /services/data/``) and a version's Resources by
Version (``GET /services/data/vXX.X/``).

The versions list needs no session and does not count against the API limit.
[src: api_rest headers_api_usage.htm ("Versions URI, /, which do not count");
 resources_versions.htm; SALESFORCE.md §8 response shape]
"""

from __future__ import annotations

from typing import Any

from opencx_salesforce.emulator.rest.dispatch import (
    LATEST_API_VERSION,
    MIN_API_VERSION,
    RestRequest,
    RestResponse,
)

__all__ = ["LATEST_API_VERSION", "release_label", "resources", "versions_list"]

# Resources by Version, as the doc example lists them for v68.0: every key maps to
# "/services/data/vXX.X/<key>" except "identity", an absolute URL to the caller's
# identity (jsforce's ``conn.identity()`` follows it). Keys vary by org features; the
# ones the emulator does not serve answer 404 NOT_FOUND like any unknown resource.
# [src: developer.salesforce.com/docs/platform/api-rest/guide/dome-discoveryresource.md
#  "List Available REST Resources"; resources-discoveryresource.md "Resources by Version"]
RESOURCE_NAMES = (
    "tooling",
    "metadata",
    "eclair",
    "folders",
    "prechatForms",
    "contact-tracing",
    "jsonxform",
    "chatter",
    "payments",
    "tabs",
    "appMenu",
    "quickActions",
    "queryAll",
    "commerce",
    "wave",
    "iot",
    "analytics",
    "search",
    "smartdatadiscovery",
    "composite",
    # Not in the v68.0 excerpt but in the v26.0 example or the resources list.
    # [src: atlas.en-us.196.0 api_rest dome_discoveryresource.htm; resources_list.htm]
    "sobjects",
    "licensing",
    "connect",
    "query",
    "recent",
    "limits",
)

_SEASONS = ("Winter", "Spring", "Summer")


def release_label(version: float) -> str:
    """v20.0 was Winter '11; three releases a year since. (v65.0 → "Winter '26",
    as the docs' example shows.)"""
    steps = int(version) - 20
    return f"{_SEASONS[steps % 3]} '{11 + steps // 3:02d}"


def versions_list(base_url: str = "") -> list[dict[str, Any]]:
    """Only the versions "currently available": retired ones are not listed.
    [src: resources_list.htm "Versions"; intro_api_eol.html]"""
    del base_url  # URLs are relative to the instance, as Salesforce returns them
    out = []
    version = MIN_API_VERSION
    while version <= LATEST_API_VERSION:
        out.append(
            {
                "label": release_label(version),
                "url": f"/services/data/v{version:.1f}",
                "version": f"{version:.1f}",
            }
        )
        version += 1.0
    return out


async def resources(request: RestRequest) -> RestResponse:
    body: dict[str, str] = {}
    for name in RESOURCE_NAMES:
        body[name] = request.url_for(name)
        if name == "smartdatadiscovery":  # the doc example's order
            principal = request.principal
            auth = request.org.state.auth
            body["identity"] = auth.identity_url(principal.org_id, principal.user_id)
    return RestResponse(200, body)
