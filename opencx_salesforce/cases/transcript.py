"""The transcript as CaseComments: rendered, packed and split to the API's limit.

A CaseComment body holds at most 4,000 bytes through the API, counted in UTF-8
bytes, not characters [src: CaseComment field reference, CommentBody "maximum
size of the comment body is 4,000 bytes"; Salesforce knowledge article 000382141].
So a transcript is cut on byte budgets, and only between extended grapheme
clusters (UAX #29), never inside what a reader sees as one character: a flag, a
family emoji, a letter and its combining marks (:mod:`..salesforce.text`).

Short messages are packed together into one comment; a long one is split across
comments, each later piece marked ``(continued)``. The output is deterministic
for the same messages, which is what makes retries exact: a retry compares the
bodies already on the Case with the bodies it would write and sends only the
missing ones.
"""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import aclosing
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import NamedTuple

import pluggy

from opencx_salesforce.errors import ExtensionHookError
from opencx_salesforce.extensions import answers
from opencx_salesforce.models import Message, Role, Session
from opencx_salesforce.salesforce.text import (
    COMMENT_BODY_MAX_BYTES,
    clusters,
    split_for_comments,
)
from opencx_salesforce.salesforce.text import utf8_len as _utf8_len

_SEPARATOR = "\n\n"
_ROLE_LABEL = {
    Role.CONTACT: "Customer",
    Role.BOT: "AI assistant",
    Role.AGENT: "Agent",
    Role.SYSTEM: "System",
}


def split_utf8(text: str, limit: int) -> list[str]:
    """Cut ``text`` into pieces of at most ``limit`` UTF-8 bytes whose
    concatenation is exactly ``text``, only between what a reader sees as one
    character (extended grapheme clusters: a flag, a family emoji, a letter and
    its accents stay whole), preferring a line break, then a space.
    See :func:`opencx_salesforce.salesforce.text.split_for_comments`."""
    return split_for_comments(text, limit)


class Piece(NamedTuple):
    """A part of one message's text, as placed in a comment (a tuple: a
    transcript makes one a message)."""

    message_index: int
    text: str
    continued: bool  # not the first piece of its message


@dataclass(frozen=True)
class PlannedComment:
    body: str
    pieces: tuple[Piece, ...]


class TitledComments(list[str]):
    """A ``salesforce_transcript`` answer whose bodies already carry their title
    (the default's numbered parts, :func:`packed_transcript`): written as they
    are, where a plain ``list[str]`` gets the title line put above each body."""


def speaker_line(message: Message, *, continued: bool = False) -> str:
    who = _ROLE_LABEL.get(message.role) or str(message.role)
    if message.author:
        # Bounded, so a speaker line always leaves room for text in a comment.
        author = message.author if len(message.author) <= 80 else message.author[:79] + "…"
        who = f"{who} ({author})"
    when = _when(message.created_at)
    return f"{who} · {when}" + (" (continued)" if continued else "")


def _when(moment: datetime) -> str:
    """``2026-11-25 01:40:00 UTC``: a time with another offset is shown in UTC,
    a naive one is taken as UTC already. Every message of a transcript has its
    own time, and most of a conversation's share their minute: the text up to
    the minute is kept by minute since the epoch. Formatting all six fields
    took 1.5 µs a time (1.2 for a time parsed by pydantic, whose time zone
    answers its offset slowly either way); this takes 0.55 (1.0). Exact
    integer arithmetic on the ``timedelta``: no float to round."""
    since = moment - (_NAIVE_EPOCH if moment.tzinfo is None else _EPOCH)
    minute_of_day, second = divmod(since.seconds, 60)
    minute = since.days * 1440 + minute_of_day
    head = _MINUTES.get(minute)
    if head is None:
        if len(_MINUTES) >= _MINUTES_KEPT:
            _MINUTES.clear()
        at = _EPOCH + timedelta(minutes=minute)
        head = "%04d-%02d-%02d %02d:%02d:" % (at.year, at.month, at.day, at.hour, at.minute)  # noqa: UP031
        _MINUTES[minute] = head
    return "%s%02d UTC" % (head, second)  # noqa: UP031 (faster than an f-string here)


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_NAIVE_EPOCH = _EPOCH.replace(tzinfo=None)
_MINUTES: dict[int, str] = {}  # "2026-11-25 01:40:" by minute since the epoch
_MINUTES_KEPT = 4096


def plan_transcript(
    messages: Sequence[Message],
    *,
    title: str,
    limit: int = COMMENT_BODY_MAX_BYTES,
) -> list[PlannedComment]:
    """Pack ``messages`` into comment bodies of at most ``limit`` bytes.

    Each body starts with ``title`` and a part counter ("part 2 of 5"); each
    message is a block of a speaker line then its text. A message that does not
    fit in the room left starts a new comment; only one longer than a whole
    comment is split, its later pieces repeating the speaker line with
    ``(continued)``.
    """
    # The header's size depends on the part count, which depends on the packing:
    # reserve room for the widest counter the transcript could possibly need.
    header_room = _utf8_len(_header(title, 99999, 99999)) + len(_SEPARATOR)
    budget = limit - header_room
    if budget < 64:
        raise ValueError(f"title too long for a {limit}-byte comment: {title[:40]!r}…")

    groups: list[list[tuple[str, Piece]]] = []
    group: list[tuple[str, Piece]] = []  # the comment being filled
    room = budget
    sep_size = len(_SEPARATOR)

    for index, message in enumerate(messages):
        text = message.text
        size = _utf8_len(text)  # encoded once; kept up to date as pieces are cut off
        continued = False
        line = speaker_line(message) + "\n"
        line_size = _utf8_len(line)
        while True:
            fixed = (sep_size if group else 0) + line_size
            if room - fixed < 16 and group:
                groups.append(group)
                group, room = [], budget
                continue
            space = max(4, room - fixed)
            if size <= space:
                group.append((line, Piece(index, text, continued)))
                room -= fixed + size
                break
            if group and line_size + size <= budget:
                # It fits whole in a comment of its own: don't cut it.
                groups.append(group)
                group, room = [], budget
                continue
            head = split_utf8(text, space)[0]
            if group and len(head) < len(next(clusters(text))):
                # The room left is smaller than the first thing a reader sees as
                # one character (a family emoji): start a comment rather than cut it.
                groups.append(group)
                group, room = [], budget
                continue
            group.append((line, Piece(index, head, continued)))
            text = text[len(head) :]
            size -= _utf8_len(head)
            if not continued:
                continued = True
                line = speaker_line(message, continued=True) + "\n"
                line_size = _utf8_len(line)
            groups.append(group)
            group, room = [], budget
    if group:
        groups.append(group)

    total = len(groups)
    planned = []
    for number, group in enumerate(groups, start=1):
        blocks = [line + piece.text for line, piece in group]
        body = _header(title, number, total) + _SEPARATOR + _SEPARATOR.join(blocks)
        planned.append(PlannedComment(body=body, pieces=tuple(p for _, p in group)))
    return planned


def packed_transcript(messages: Sequence[Message], title: str) -> TitledComments:
    """The default rendering (:mod:`opencx_salesforce.defaults`): the comment
    bodies of :func:`plan_transcript`."""
    return TitledComments(c.body for c in plan_transcript(messages, title=title))


def _header(title: str, number: int, total: int) -> str:
    return f"{title} — part {number} of {total}"


def split_bodies(bodies: Sequence[str], limit: int = COMMENT_BODY_MAX_BYTES) -> list[str]:
    """Bodies returned by a ``salesforce_transcript`` hook, each cut to the
    limit (a body that fits stays whole)."""
    out: list[str] = []
    for body in bodies:
        out.extend(split_utf8(body, limit) if body else [])
    return out


async def render(
    pm: pluggy.PluginManager, session: Session, messages: Sequence[Message], title: str
) -> list[str]:
    """The comment bodies for ``messages``, from the first plugin whose
    ``salesforce_transcript`` answers: an extension's, or else the defaults'
    (:mod:`opencx_salesforce.defaults`, ``trylast``). No answer at all (a host
    blocked the defaults) writes no comment."""
    # Closed here on the first answer, not later by the loop's finaliser (a task
    # of its own for every handoff).
    async with aclosing(
        answers(pm, "salesforce_transcript", session=session, messages=list(messages), title=title)
    ) as found:
        async for plugin, answer in found:
            if not isinstance(answer, list) or not all(isinstance(b, str) for b in answer):
                raise ExtensionHookError(
                    plugin, None, "salesforce_transcript must return a list of strings or None"
                )
            if isinstance(answer, TitledComments):
                # Bodies that fit are kept as they are (the defaults' always do).
                if all(_utf8_len(body) <= COMMENT_BODY_MAX_BYTES for body in answer):
                    return [body for body in answer if body]
                return split_bodies(answer)
            return split_bodies([f"{title}\n\n{body}" for body in answer])
    return []
