"""Text measured and cut the way Salesforce and a reader see it.

Salesforce counts a text field's length in Java ``char`` s, UTF-16 code units: an
emoji outside the Basic Multilingual Plane counts 2, so a 255-character Subject
holds 127 of them, not 255. A CaseComment body is limited in UTF-8 bytes (4,000).
[src: help.salesforce.com article 005166849 "Surrogate Pair Characters Are Treated
as Two Characters"; object_reference sforce_api_objects_casecomment.htm "The maximum
size of the comment body is 4,000 bytes"; SALESFORCE.md "Safe rule"]

A reader sees extended grapheme clusters (Unicode UAX #29), not code points: a flag
is two regional indicators, a family emoji is several people joined by zero-width
joiners, an accented letter may be a letter and a combining mark. Cutting inside one
leaves halves that render as something else ("🇯🇵" cut becomes "J" "P" boxes). Every
cut here falls between clusters, found with the ``regex`` package's ``\\X``, which
follows the current UAX #29 rules.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Final

import regex

COMMENT_BODY_MAX_BYTES: Final = 4000

_CLUSTER: Final = regex.compile(r"\X", regex.DOTALL)
# Cut after one of these when it falls in the last fifth of a comment's window, so
# a rep reads whole lines and words.
_NICE_BREAKS: Final = ("\n", " ")


def utf16_len(text: str) -> int:
    """The length Salesforce checks a text field against: UTF-16 code units
    (Java ``String.length()``); each code point above U+FFFF counts 2."""
    if text.isascii():
        return len(text)
    # Two bytes a unit, four for a code point above U+FFFF; a lone surrogate one unit.
    return len(text.encode("utf-16-le", "surrogatepass")) // 2


def utf8_len(text: str) -> int:
    # ASCII (most chat text) is one byte a character: no encoding needed.
    return len(text) if text.isascii() else len(text.encode("utf-8", "surrogatepass"))


def clusters(text: str) -> Iterator[str]:
    """The extended grapheme clusters of ``text``, in order; they join back to it."""
    for match in _CLUSTER.finditer(text):
        yield match.group()


def cut_to(text: str, max_utf16: int) -> str:
    """The longest prefix of ``text`` that fits ``max_utf16`` UTF-16 code units and
    ends at a grapheme cluster boundary.

    The one exception: when the first cluster alone is longer than the limit (e.g.
    a letter under hundreds of combining marks), it is cut at a code point boundary
    rather than dropping everything. Never cuts inside a code point (so never
    between the two halves of a surrogate pair)."""
    if max_utf16 < 0:
        raise ValueError("max_utf16 must be zero or more")
    if utf16_len(text) <= max_utf16:
        return text
    if text.isascii():
        # Every ASCII character is a cluster of its own but CR LF, one cluster.
        end = max_utf16
        if end > 1 and text[end - 1 : end + 1] == "\r\n":
            end -= 1
        return text[:end]
    used = 0
    end = 0
    for cluster in clusters(text):
        size = utf16_len(cluster)
        if used + size > max_utf16:
            if end == 0:
                return _code_point_prefix(cluster, max_utf16, utf16_len)
            break
        used += size
        end += len(cluster)
    return text[:end]


def split_for_comments(text: str, max_bytes: int = COMMENT_BODY_MAX_BYTES) -> list[str]:
    """Cut ``text`` into chunks of at most ``max_bytes`` UTF-8 bytes whose
    concatenation is exactly ``text`` (an empty text gives no chunks).

    Every cut falls at a grapheme cluster boundary; within the last fifth of a
    chunk's window a cut after a line break, else after a space, is preferred. The
    only cut inside a cluster: a single cluster longer than ``max_bytes`` is split
    at code point boundaries into pieces that fit (a code point is never split)."""
    if max_bytes < 4:
        raise ValueError("max_bytes must hold any one code point (4 UTF-8 bytes)")
    chunks: list[str] = []
    current: list[str] = []
    used = 0
    for cluster in clusters(text):
        size = utf8_len(cluster)
        if size > max_bytes:
            if current:
                chunks.append("".join(current))
                current, used = [], 0
            chunks.extend(_code_point_pieces(cluster, max_bytes))
            continue
        if used + size > max_bytes:
            kept, carried = _nicer_break(current, max_bytes)
            chunks.append("".join(kept))
            current = carried
            used = sum(utf8_len(part) for part in carried)
            if used + size > max_bytes:  # what was carried and this cluster don't fit
                chunks.append("".join(current))
                current, used = [], 0
        current.append(cluster)
        used += size
    if current:
        chunks.append("".join(current))
    return chunks


def _nicer_break(window: list[str], max_bytes: int) -> tuple[list[str], list[str]]:
    """Split a full window of clusters after its last line break (else space) in
    the last fifth of the byte budget; otherwise keep it whole."""
    floor = max_bytes * 4 // 5
    for mark in _NICE_BREAKS:
        used = 0
        best = -1
        for index, cluster in enumerate(window):
            used += utf8_len(cluster)
            if used >= floor and cluster.endswith(mark) and index < len(window) - 1:
                best = index
        if best >= 0:
            return window[: best + 1], window[best + 1 :]
    return window, []


def _code_point_prefix(text: str, limit: int, measure: Callable[[str], int]) -> str:
    used = 0
    for index, ch in enumerate(text):
        used += measure(ch)
        if used > limit:
            return text[:index]
    return text


def _code_point_pieces(cluster: str, max_bytes: int) -> list[str]:
    pieces: list[str] = []
    rest = cluster
    while rest:
        piece = _code_point_prefix(rest, max_bytes, utf8_len)
        pieces.append(piece)
        rest = rest[len(piece) :]
    return pieces
