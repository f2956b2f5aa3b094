"""Salesforce record Ids.

An Id is 15 case-sensitive base-62 characters (3-character key prefix naming the
object type, then the record number); the API returns the 18-character form whose
3-character suffix encodes which of the 15 characters are upper case, so the Id
survives case-insensitive tools. [src: Salesforce Help "What is a Record ID";
the suffix algorithm is the one the CASESAFEID() formula function applies.]
"""

from __future__ import annotations

import itertools
import threading

_BASE62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
_SUFFIX = "ABCDEFGHIJKLMNOPQRSTUVWXYZ012345"

# Standard key prefixes, the same in every org.
KEY_PREFIXES: dict[str, str] = {
    "Account": "001",
    "Contact": "003",
    "User": "005",
    "Organization": "00D",
    "CaseComment": "00a",
    "Case": "500",
    "EmailMessage": "02s",
    "FeedItem": "0D5",
    "ApexClass": "01p",
    "ApexTrigger": "01q",
    "NamedCredential": "0XA",
    "CaseStatus": "01J",
    "CustomField": "00N",
    "AsyncApexJob": "707",
}


def case_safe(id15: str) -> str:
    """The 18-character form of a 15-character Id."""
    if len(id15) != 15:
        raise ValueError(f"expected a 15-character Id, got {id15!r}")
    suffix = ""
    for chunk in range(3):
        bits = 0
        for pos in range(5):
            if id15[chunk * 5 + pos].isupper():
                bits |= 1 << pos
        suffix += _SUFFIX[bits]
    return id15 + suffix


def is_valid_id(value: str, prefix: str | None = None) -> bool:
    """Whether ``value`` looks like a 15- or 18-character Id (with ``prefix``)."""
    if len(value) not in (15, 18) or not all(ch in _BASE62 for ch in value):
        return False
    if len(value) == 18 and case_safe(value[:15]) != value:
        return False
    return prefix is None or value.startswith(prefix)


def to18(value: str) -> str:
    return case_safe(value) if len(value) == 15 else value


def _base62(n: int, width: int) -> str:
    out = []
    for _ in range(width):
        n, rem = divmod(n, 62)
        out.append(_BASE62[rem])
    return "".join(reversed(out))


class IdFactory:
    """Makes unique 18-character Ids for one org. The 4th–5th characters are the
    pod ("instance") identifier, the 6th is reserved and 0."""

    def __init__(self, pod: str = "5g") -> None:
        self._pod = pod
        self._counter = itertools.count(1)
        self._lock = threading.Lock()

    def new(self, prefix: str) -> str:
        with self._lock:
            n = next(self._counter)
        return case_safe(prefix + self._pod + "0" + _base62(n, 9))
