"""References between composite subrequests: ``@{referenceId.path}``.

A later subrequest's ``url`` or ``body`` may name an earlier subrequest's
response: ``.`` reads a field of a JSON object, ``[n]`` indexes a JSON array, and
both repeat as deep as the response goes (``@{refAccount.id}``,
``@{refQuery.records[0].Id}``, ``@{NewAccount.BillingAddress.city}``). Field names
are case-sensitive: a create answers ``id``, a retrieve ``Id``.
[src: api_rest requests_composite.htm "Composite Subrequest", referenceId]

When the path leads nowhere (unknown referenceId, missing field, index out of
range, or the referenced subrequest answered an error array) the dependent
subrequest fails with PROCESSING_HALTED and this message, as the doc's examples
and recorded responses show it. [src: api_rest requests_composite.htm "Behavior
for References to Fields That Aren't Specified in the Parent Request"]

A reference to a field whose value is null fails in API v51.0 and earlier and
resolves to null from v52.0. [src: requests_composite.htm "Behavior for
References to Null Fields"]
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from typing import Any

# A reference in a string: "@{" then anything but "}" then "}".
_REFERENCE = re.compile(r"@\{([^{}]*)\}")
# One step of a path after the referenceId.
_STEP = re.compile(r"\.([^.\[\]]+)|\[(\d+)\]")
# The referenceId at the start of a reference: up to the first "." or "[".
_HEAD = re.compile(r"[^.\[\]]*")

# From v52.0 a reference to a null field resolves to null.
NULL_REFERENCE_VERSION = 52.0

_MISSING = object()


class UnresolvedReference(Exception):
    """A reference with no value; the subrequest that holds it is not executed."""

    def __init__(self, expression: str, reference_id: str) -> None:
        self.expression = expression
        self.reference_id = reference_id
        super().__init__(reference_message(expression, reference_id))


def reference_message(expression: str, reference_id: str) -> str:
    """The PROCESSING_HALTED message of an unresolved reference, as the doc's
    examples and recorded responses give it (the second sentence is the platform's
    and appears whatever the cause). [src: api_rest requests_composite.htm examples]"""
    return (
        f"Invalid reference specified. No value for {expression} found in {reference_id}. "
        f"Provided referenceId ('{expression}') must start with a letter or a number, "
        "and it can contain only letters, numbers and underscores ('_')."
    )


def referenced_ids(value: Any) -> set[str]:
    """The referenceIds that ``value`` (a url, or a body at any depth) names."""
    return {_head(expression) for expression in _expressions(value)}


def _expressions(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        for matched in _REFERENCE.finditer(value):
            yield matched[1]
    elif isinstance(value, Mapping):
        for item in value.values():
            yield from _expressions(item)
    elif isinstance(value, list):
        for item in value:
            yield from _expressions(item)


def _head(expression: str) -> str:
    matched = _HEAD.match(expression)
    return matched[0] if matched else ""


def lookup(expression: str, responses: Mapping[str, Any], api_version: float) -> Any:
    """The value ``expression`` (what stands between ``@{`` and ``}``) names in the
    earlier subrequests' response bodies; raises :class:`UnresolvedReference`."""
    reference_id = _head(expression)
    current = responses.get(reference_id, _MISSING)
    position = len(reference_id)
    while current is not _MISSING and position < len(expression):
        step = _STEP.match(expression, position)
        if step is None:
            current = _MISSING
            break
        position = step.end()
        key, index = step[1], step[2]
        if key is not None:
            current = current.get(key, _MISSING) if isinstance(current, dict) else _MISSING
        else:
            at = int(index)
            in_range = isinstance(current, list) and at < len(current)
            current = current[at] if in_range else _MISSING
    if current is _MISSING or position < len(expression) or not reference_id:
        raise UnresolvedReference(expression, reference_id)
    if current is None and api_version < NULL_REFERENCE_VERSION:
        raise UnresolvedReference(expression, reference_id)
    if isinstance(current, dict | list):
        # Only scalars are referenceable (DateTime, String, Boolean, numbers).
        # [src: requests_composite.htm, body: "The referenceable types are ..."]
        raise UnresolvedReference(expression, reference_id)
    return current


def resolve(value: Any, responses: Mapping[str, Any], api_version: float) -> Any:
    """``value`` with every reference replaced. A string that is exactly one
    reference takes the referenced value itself (a number stays a number, null stays
    null); a reference inside longer text is replaced by its text."""
    if isinstance(value, str):
        return _resolve_text(value, responses, api_version)
    if isinstance(value, dict):
        return {key: resolve(item, responses, api_version) for key, item in value.items()}
    if isinstance(value, list):
        return [resolve(item, responses, api_version) for item in value]
    return value


def resolve_url(url: str, responses: Mapping[str, Any], api_version: float) -> str:
    """``url`` with every reference replaced by its text."""
    return _REFERENCE.sub(lambda matched: _as_text(lookup(matched[1], responses, api_version)), url)


def _resolve_text(text: str, responses: Mapping[str, Any], api_version: float) -> Any:
    whole = _REFERENCE.fullmatch(text)
    if whole is not None:
        return lookup(whole[1], responses, api_version)
    return _REFERENCE.sub(
        lambda matched: _as_text(lookup(matched[1], responses, api_version)), text
    )


def _as_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)
