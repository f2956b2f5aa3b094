"""SOQL text to tokens.

Keywords are not special here: SOQL keywords are case-insensitive words, and
some of them are also object names (``Group``, ``Order``), so the parser decides
what a word means from where it stands. Date and dateTime literals are unquoted
(``2005-10-08``, ``2005-10-08T01:02:03Z``, ``...+01:00``) and so are lexed as one
token. [src: soql_sosl sforce_api_calls_soql_select_dateformats.htm]

Strings take single quotes and these escapes: ``\\n \\r \\t \\b \\f`` (either case),
``\\" \\' \\\\``, ``\\uXXXX``, and in a LIKE pattern ``\\%`` and ``\\_``. "If you use a
backslash character in any other context, an error occurs."
[src: soql_sosl sforce_api_calls_soql_select_quotedstringescapes.htm]

A character no token can start with is reported the way the platform's lexer
does since Summer '24: ``line 1:15 unexpected token: '$'`` (0-based column).
[src: Summer '24 release notes, "SOQL: Changed Error Messages"]
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta, timezone

from opencx_salesforce.emulator.soql.errors import SoqlError, located, place_of


class Kind(enum.Enum):
    WORD = "word"
    STRING = "string"
    NUMBER = "number"
    DATE = "date"
    DATETIME = "datetime"
    LPAREN = "("
    RPAREN = ")"
    COMMA = ","
    DOT = "."
    COLON = ":"
    OPERATOR = "operator"
    PLUS = "+"
    MINUS = "-"
    EOF = "<EOF>"


@dataclass(frozen=True)
class Token:
    kind: Kind
    text: str  # as written
    start: int  # offset in the query text
    end: int
    # STRING: the decoded text; DATE: a date; DATETIME: an aware datetime.
    value: object = None
    # STRING: offsets in ``value`` of ``%``/``_`` written as ``\\%``/``\\_``.
    escaped_wildcards: tuple[int, ...] = field(default=())
    # WORD: the text in upper case, for keyword checks; "" for other kinds.
    upper: str = ""


_PUNCTUATION = {
    "(": Kind.LPAREN,
    ")": Kind.RPAREN,
    ",": Kind.COMMA,
    ".": Kind.DOT,
    ":": Kind.COLON,
    "+": Kind.PLUS,
    "-": Kind.MINUS,
}
_OPERATORS = ("!=", "<>", "<=", ">=", "=", "<", ">")
_SIMPLE_ESCAPES = {"n": "\n", "r": "\r", "t": "\t", "b": "\b", "f": "\f"}
_QUOTE_ESCAPES = {'"': '"', "'": "'", "\\": "\\"}

# The shape of one date or dateTime token; the values are checked afterwards.
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}(?![\w])")
_DATETIME = re.compile(
    r"(?P<date>\d{4}-\d{2}-\d{2})[Tt](?P<h>\d{2}):(?P<m>\d{2}):(?P<s>\d{2})"
    r"(?:\.(?P<frac>\d{1,9}))?(?P<zone>[Zz]|[+-]\d{2}:?\d{2})?(?![\w.:])"
)
_DATETIME_START = re.compile(r"\d{4}-\d{2}-\d{2}[Tt]\d")


def tokenize(text: str) -> list[Token]:
    """Every token of ``text``, ending with an EOF token at the end of the text."""
    tokens: list[Token] = []
    pos = 0
    length = len(text)
    while pos < length:
        char = text[pos]
        if char.isspace():
            pos += 1
        elif char.isalpha() or char == "_":
            end = pos + 1
            while end < length and (text[end].isalnum() or text[end] == "_"):
                end += 1
            word = text[pos:end]
            tokens.append(Token(Kind.WORD, word, pos, end, upper=word.upper()))
            pos = end
        elif char.isdigit():
            token = _date_or_number(text, pos)
            tokens.append(token)
            pos = token.end
        elif char == "'":
            token = _string(text, pos)
            tokens.append(token)
            pos = token.end
        elif char in _PUNCTUATION:
            tokens.append(Token(_PUNCTUATION[char], char, pos, pos + 1))
            pos += 1
        else:
            operator = next((op for op in _OPERATORS if text.startswith(op, pos)), None)
            if operator is None:
                raise _bad_character(text, pos)
            tokens.append(Token(Kind.OPERATOR, operator, pos, pos + len(operator)))
            pos += len(operator)
    tokens.append(Token(Kind.EOF, "<EOF>", length, length))
    return tokens


def _bad_character(text: str, pos: int) -> SoqlError:
    where = place_of(text, pos)
    return SoqlError(
        "MALFORMED_QUERY", f"line {where.row}:{where.column - 1} unexpected token: '{text[pos]}'"
    )


def _date_or_number(text: str, pos: int) -> Token:
    if _DATETIME_START.match(text, pos):
        matched = _DATETIME.match(text, pos)
        end = matched.end() if matched else _word_end(text, pos)
        written = text[pos:end]
        moment = _datetime_value(matched) if matched else None
        if moment is None:
            # [src: Summer '24 release notes: "Invalid datetime: 2020-52-12t12:12:00-05:00"]
            raise located("MALFORMED_QUERY", text, pos, f"Invalid datetime: {written}")
        return Token(Kind.DATETIME, written, pos, end, moment)
    matched = _DATE.match(text, pos)
    if matched:
        written = matched.group()
        try:
            day = date.fromisoformat(written)
        except ValueError:
            raise located("MALFORMED_QUERY", text, pos, f"Invalid date: {written}") from None
        return Token(Kind.DATE, written, pos, matched.end(), day)
    end = pos
    while end < len(text) and text[end].isdigit():
        end += 1
    if end + 1 < len(text) and text[end] == "." and text[end + 1].isdigit():
        end += 1
        while end < len(text) and text[end].isdigit():
            end += 1
    return Token(Kind.NUMBER, text[pos:end], pos, end)


def _word_end(text: str, pos: int) -> int:
    end = pos
    while end < len(text) and (text[end].isalnum() or text[end] in "-+:._"):
        end += 1
    return end


def _datetime_value(matched: re.Match[str]) -> datetime | None:
    zone = matched["zone"]
    if zone is None:
        return None  # the documented formats all carry a zone
    try:
        tz = UTC
        if zone not in ("Z", "z"):
            digits = zone[1:].replace(":", "")
            hours, minutes = int(digits[:2]), int(digits[2:])
            if hours > 23 or minutes > 59:
                return None
            offset = timedelta(hours=hours, minutes=minutes)
            tz = timezone(-offset if zone[0] == "-" else offset)
        fraction = (matched["frac"] or "0").ljust(6, "0")[:6]
        year, month, day = (int(part) for part in matched["date"].split("-"))
        return datetime(
            year,
            month,
            day,
            int(matched["h"]),
            int(matched["m"]),
            int(matched["s"]),
            int(fraction),
            tzinfo=tz,
        )
    except ValueError:
        return None


def _string(text: str, start: int) -> Token:
    chars: list[str] = []
    escaped_wildcards: list[int] = []
    pos = start + 1
    while pos < len(text):
        char = text[pos]
        if char == "'":
            return Token(
                Kind.STRING,
                text[start : pos + 1],
                start,
                pos + 1,
                "".join(chars),
                tuple(escaped_wildcards),
            )
        if char != "\\":
            chars.append(char)
            pos += 1
            continue
        following = text[pos + 1 : pos + 2]
        if following.lower() in _SIMPLE_ESCAPES:
            chars.append(_SIMPLE_ESCAPES[following.lower()])
            pos += 2
        elif following in _QUOTE_ESCAPES:
            chars.append(_QUOTE_ESCAPES[following])
            pos += 2
        elif following in ("%", "_"):
            escaped_wildcards.append(len(chars))
            chars.append(following)
            pos += 2
        elif following == "u" and _is_hex(text[pos + 2 : pos + 6]):
            chars.append(chr(int(text[pos + 2 : pos + 6], 16)))
            pos += 6
        else:
            # The message for a stray backslash is not documented; the lexer's
            # "unexpected token" form is the closest the platform shows.
            raise _bad_character(text, pos)
    # An unclosed quote: the platform's lexer cannot start a token there.
    raise _bad_character(text, start)


def _is_hex(chunk: str) -> bool:
    return len(chunk) == 4 and all(c in "0123456789abcdefABCDEF" for c in chunk)
