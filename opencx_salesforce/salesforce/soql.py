"""Building SOQL text safely.

String literals are quoted with single quotes; a backslash escapes ``'``, ``"``,
``\\``, and the control characters \\n \\r \\t \\b \\f.
[src: soql_sosl sforce_api_calls_soql_select_quotedstringescapes.htm "Quoted String
Escape Sequences"]
"""

from __future__ import annotations

_ESCAPES = {
    "\\": "\\\\",
    "'": "\\'",
    '"': '\\"',
    "\n": "\\n",
    "\r": "\\r",
    "\t": "\\t",
    "\b": "\\b",
    "\f": "\\f",
}


def literal(value: str) -> str:
    """``value`` as a SOQL string literal, quotes included."""
    return "'" + "".join(_ESCAPES.get(ch, ch) for ch in value) + "'"


def id_list(ids: list[str]) -> str:
    """``('a','b')`` for an ``IN`` clause."""
    return "(" + ",".join(literal(i) for i in ids) + ")"
