"""Salesforce record Ids."""

from __future__ import annotations

_SUFFIX_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZ012345"


def full_id(record_id: str) -> str:
    """The 18-character form of a Salesforce Id (the case-safe suffix is computed
    from the capital letters of each 5-character chunk).
    [src: api field_types.htm#i1435616, ID Field Type]"""
    if len(record_id) != 15:
        return record_id
    suffix = ""
    for chunk in range(3):
        flags = 0
        for position, char in enumerate(record_id[chunk * 5 : chunk * 5 + 5]):
            if "A" <= char <= "Z":
                flags |= 1 << position
        suffix += _SUFFIX_ALPHABET[flags]
    return record_id + suffix
