"""Request bodies as JSON bytes, and their exact size before they are built.

pydantic-core's encoder (already a dependency) writes UTF-8 JSON in a quarter
of the time ``json.dumps`` takes: a composite request carrying 60 handoffs'
transcripts in 343 µs against 1,462. A text that UTF-8 cannot carry, a lone
surrogate, which a transcript keeps as it was written, stops it; such a body is
written by ``json.dumps`` instead, compact, each lone surrogate as its six-byte
escape (U+D83D as ``\\ud83d``) and the rest as UTF-8, so each text takes the
same bytes whichever encoder writes it and :func:`json_size` of its parts adds
up exactly.
"""

from __future__ import annotations

import json
import re
from typing import Any

import pydantic_core

# Outside strings a JSON text is ASCII: a surrogate in it is inside a string.
_SURROGATE = re.compile("[\ud800-\udfff]")


def json_bytes(value: Any) -> bytes:
    """``value`` (JSON-like data) as UTF-8 JSON."""
    try:
        return pydantic_core.to_json(value)
    except pydantic_core.PydanticSerializationError:
        text = json.dumps(value, ensure_ascii=False, separators=(",", ":"))
        return _SURROGATE.sub(lambda m: f"\\u{ord(m.group()):04x}", text).encode()


def json_size(value: Any) -> int:
    """How many bytes ``value`` takes in a body :func:`json_bytes` writes."""
    return len(json_bytes(value))
