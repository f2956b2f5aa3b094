"""The Versions resource (``GET /services/data/``) and a version's Resources by
Version (``GET /services/data/vXX.X/``).

The versions list needs no session and does not count against the API limit.
[src: api_rest headers_api_usage.htm ("Versions URI, /, which do not count");
 resources_versions.htm; SALESFORCE.md §8 response shape]
"""

from __future__ import annotations

from typing import Any

from opencx_salesforce.emulator.rest.dispatch import MIN_API_VERSION, RestRequest, RestResponse

# Newest version the emulator lists (Winter '26).
LATEST_API_VERSION = 65.0

_SEASONS = ("Winter", "Spring", "Summer")


def release_label(version: float) -> str:
    """v20.0 was Winter '11; three releases a year since. (v65.0 → "Winter '26",
    as the docs' example shows.)"""
    steps = int(version) - 20
    return f"{_SEASONS[steps % 3]} '{11 + steps // 3:02d}"


def versions_list(base_url: str = "") -> list[dict[str, Any]]:
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
    names = ["sobjects", "query", "queryAll", "limits", "tooling", "composite"]
    body = {name: request.url_for(name) for name in names}
    return RestResponse(200, body)
