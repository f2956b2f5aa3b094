"""Reading a Salesforce error response: its body (JSON or a proxy's HTML page),
its Retry-After header, and Salesforce's list of errors. Which error class a
response becomes is :func:`opencx_salesforce.salesforce.errors.error_for_response`.
"""

from __future__ import annotations

import email.utils
import json
import re
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

SNIPPET_CHARS = 200


@dataclass(frozen=True, slots=True)
class ErrorDetail:
    """One entry of a Salesforce error list.

    REST errors use ``errorCode``; sObject Collections and sObject Tree results
    use ``statusCode`` for the same thing. [src: SALESFORCE.md §9 note]
    """

    message: str
    error_code: str
    fields: tuple[str, ...] = ()

    @classmethod
    def from_json(cls, item: Mapping[str, Any]) -> ErrorDetail:
        code = item.get("errorCode") or item.get("statusCode") or ""
        fields = item.get("fields") or ()
        return cls(
            message=str(item.get("message", "")),
            error_code=str(code),
            fields=tuple(str(f) for f in fields) if isinstance(fields, list) else (),
        )

    def __str__(self) -> str:
        where = f" [{', '.join(self.fields)}]" if self.fields else ""
        return f"{self.error_code}: {self.message}{where}"


def parse_body(raw: bytes, content_type: str | None) -> Any:
    """The body as JSON when it is JSON, else as text (an HTML maintenance page,
    a proxy's error page). Never raises."""
    text = raw.decode("utf-8", errors="replace")
    if not text.strip():
        return None
    looks_json = (content_type or "").startswith("application/json") or text.lstrip()[:1] in (
        "[",
        "{",
    )
    if looks_json:
        try:
            return json.loads(text)
        except ValueError:
            return text
    return text


_TAGS = re.compile(r"<(script|style)\b.*?</\1>|<[^>]+>", re.IGNORECASE | re.DOTALL)
_SPACES = re.compile(r"\s+")


def snippet(text: str, limit: int = SNIPPET_CHARS) -> str:
    """A short, one-line, tag-free piece of a non-JSON body for a message."""
    flat = _SPACES.sub(" ", _TAGS.sub(" ", text)).strip()
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def parse_retry_after(value: str | None, *, now: float | None = None) -> float | None:
    """Seconds to wait from a Retry-After header: delta-seconds or an HTTP date
    (RFC 9110 §10.2.3). ``None`` when absent or unreadable."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    current = time.time() if now is None else now
    return max(0.0, when.timestamp() - current)


def error_details(body: Any) -> list[ErrorDetail]:
    """Salesforce's error list: a JSON array of {message, errorCode, fields}
    [src: api_rest errorcodes.htm; dome_sobject_create.htm]; a single object is
    accepted too (some older pages show one). Anything else gives []."""
    items: list[Any]
    if isinstance(body, list):
        items = body
    elif isinstance(body, dict) and ("errorCode" in body or "statusCode" in body):
        items = [body]
    else:
        return []
    return [ErrorDetail.from_json(item) for item in items if isinstance(item, dict)]
