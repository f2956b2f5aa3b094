"""The one error the SOQL engine raises, and how Salesforce words its position.

A query the platform rejects answers HTTP 400 with a one-item JSON array,
``[{"message": ..., "errorCode": ...}]``; the endpoints turn :class:`SoqlError`
into that body. [src: api_rest errorcodes.htm; SALESFORCE.md §10]

Errors found at a place in the query text start with that place::

    \\n<a window of the query line>\\n<spaces>^\\nERROR at Row:<r>:Column:<c>\\n<detail>

Row and column are 1-based. The window is the error's line, from about 30
characters before the error to about 30 after, widened so no word is cut. That
width is inferred from error bodies recorded from real orgs (e.g. "\\nSELECT Id,
Dispenser__c, Answer__c, Audit_Question__c\\n           ^\\nERROR at
Row:1:Column:12\\nNo such column ..." and caret lines in SoqlX, sfdx and MuleSoft
template reports); Salesforce does not document it. [src: SALESFORCE.md §10;
github.com/forcedotcom/soql-tooling/issues/86; superfell/SoqlX/issues/18]
"""

from __future__ import annotations

from dataclasses import dataclass

# How far the quoted window reaches on each side of the error's column.
_WINDOW = 30


class SoqlError(Exception):
    """A query Salesforce would refuse. ``error_code`` is the API's code
    (MALFORMED_QUERY, INVALID_FIELD, INVALID_TYPE, NUMBER_OUTSIDE_VALID_RANGE) and
    ``message`` the full text, position prefix included. Endpoints answer 400
    with :meth:`body`."""

    status = 400

    def __init__(self, error_code: str, message: str) -> None:
        super().__init__(message)
        self.error_code = error_code
        self.message = message

    def body(self) -> list[dict[str, str]]:
        return [{"message": self.message, "errorCode": self.error_code}]

    def __repr__(self) -> str:
        return f"SoqlError({self.error_code!r}, {self.message!r})"


@dataclass(frozen=True)
class Place:
    """A 1-based row and column in the query text."""

    row: int
    column: int


def place_of(text: str, offset: int) -> Place:
    line_start = text.rfind("\n", 0, offset) + 1
    return Place(row=text.count("\n", 0, offset) + 1, column=offset - line_start + 1)


def located(error_code: str, text: str, offset: int, detail: str) -> SoqlError:
    """An error at ``offset`` in ``text``, with Salesforce's position prefix."""
    return SoqlError(error_code, position_prefix(text, offset) + detail)


def position_prefix(text: str, offset: int) -> str:
    offset = max(0, min(offset, len(text)))
    line_start = text.rfind("\n", 0, offset) + 1
    line_end = text.find("\n", offset)
    line = text[line_start : len(text) if line_end < 0 else line_end].rstrip("\r")
    column = offset - line_start
    start, end = _window(line, column)
    where = place_of(text, offset)
    return (
        f"\n{line[start:end]}\n{' ' * (column - start)}^\n"
        f"ERROR at Row:{where.row}:Column:{where.column}\n"
    )


def _window(line: str, column: int) -> tuple[int, int]:
    """[start, end) of the quoted part of ``line``: the error's column ± 30
    characters, each edge moved outwards to the edge of the word it falls in."""
    start = max(0, column - _WINDOW)
    end = min(len(line), column + _WINDOW + 1)
    for word_start, word_end in _words(line):
        if word_start < start < word_end:
            start = word_start
        if word_start < end < word_end:
            end = word_end
    return start, end


def _words(line: str) -> list[tuple[int, int]]:
    """Spans of the line's words: runs of name characters and dots (a field
    path counts as one word) and quoted strings."""
    spans: list[tuple[int, int]] = []
    pos = 0
    while pos < len(line):
        char = line[pos]
        if char == "'":
            end = pos + 1
            while end < len(line) and line[end] != "'":
                end += 2 if line[end] == "\\" else 1
            spans.append((pos, min(end + 1, len(line))))
            pos = end + 1
        elif char.isalnum() or char in "_.":
            end = pos
            while end < len(line) and (line[end].isalnum() or line[end] in "_.:-+"):
                end += 1
            spans.append((pos, end))
            pos = end
        else:
            pos += 1
    return spans
