"""Which kind of REST call a request is, for counting the org's quota by use
(``opencx_salesforce_salesforce_api_calls_total{kind=…}``).

Kinds follow the REST API's resources, so that a dashboard says where the
quota went: one composite per handoff, queries for the sweep and the replies.
[src: api_rest resources_list.htm]
"""

from __future__ import annotations

import re

# /services/data/vNN.N/<resource…> or a relative path (sobjects/Case).
_API_ROOT = re.compile(r"^(?:https?://[^/]+)?/services/data/v\d+\.\d+/")

# Longest prefix first: composite/graph before composite.
_KINDS = (
    ("composite/graph", "composite_graph"),
    ("composite/sobjects", "collections"),
    ("composite/tree", "composite_tree"),
    ("composite", "composite"),
    ("queryAll", "query"),
    ("query", "query"),
    ("tooling/", "tooling"),
    ("limits", "limits"),
)


def call_kind(path: str) -> str:
    """The kind of the call to ``path`` (as given to the client's funnel)."""
    resource = _API_ROOT.sub("", path.split("?", 1)[0]).lstrip("/")
    if resource.startswith("sobjects/"):
        return "describe" if resource.endswith("/describe") else "sobject"
    for prefix, kind in _KINDS:
        if resource.startswith(prefix):
            return kind
    return "other"
