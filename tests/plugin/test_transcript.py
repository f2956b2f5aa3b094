"""The transcript fits CaseComment's 4,000-byte limit and loses nothing.

[src: CaseComment field reference, CommentBody "maximum size of the comment body
is 4,000 bytes"; Salesforce knowledge article 000382141: bytes, not characters.]
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

from hypothesis import given, settings
from hypothesis import strategies as st

from opencx_salesforce.cases.transcript import (
    COMMENT_BODY_MAX_BYTES,
    plan_transcript,
    split_bodies,
    split_utf8,
)
from opencx_salesforce.models import Message, Role

WHEN = datetime(2026, 11, 25, 1, 40, tzinfo=UTC)

# Text drawn from every plane, with CJK, emoji, combining marks and ZWJ sequences
# made likely rather than left to chance.
tricky_text = st.one_of(
    st.text(max_size=3000),
    st.text(alphabet="日本語の文字한국어中文", max_size=3000),
    st.text(alphabet="👍🏽👨‍👩‍👧🇫🇷❤️e\u0301a\u0308\u200d", max_size=3000),
    st.text(alphabet=st.characters(min_codepoint=0x10000, max_codepoint=0x10FFFF), max_size=1500),
    st.text(min_size=4000, max_size=9000, alphabet="ab €\n"),
)


def message(i: int, text: str, role: Role = Role.CONTACT, author: str | None = None) -> Message:
    return Message(id=f"m{i}", role=role, text=text, created_at=WHEN, author=author)


@settings(max_examples=200, deadline=None)
@given(text=tricky_text, limit=st.integers(min_value=4, max_value=5000))
def test_split_utf8_reassembles_exactly_within_the_byte_limit(text: str, limit: int) -> None:
    pieces = split_utf8(text, limit)
    assert "".join(pieces) == text
    assert all(0 < len(p.encode("utf-8")) <= limit for p in pieces)


def test_split_utf8_never_cuts_a_character_and_keeps_marks_with_their_base() -> None:
    # 'é' as e + COMBINING ACUTE (1 + 2 bytes): a 4-byte budget holds "e\u0301" but
    # would cut before the mark if it tried to take "ee".
    text = "e\u0301" * 10
    pieces = split_utf8(text, 4)
    assert "".join(pieces) == text
    assert all(not p.startswith("\u0301") for p in pieces)


def test_split_prefers_word_boundaries() -> None:
    text = ("word " * 2000).strip()
    pieces = split_utf8(text, 4000)
    assert all(p.endswith(" ") for p in pieces[:-1])


@settings(max_examples=100, deadline=None)
@given(
    texts=st.lists(tricky_text, min_size=1, max_size=30),
    roles=st.lists(st.sampled_from(list(Role)), min_size=30, max_size=30),
    author=st.one_of(st.none(), st.text(max_size=200)),
)
def test_planned_transcript_is_complete_ordered_and_fits(
    texts: list[str], roles: list[Role], author: str | None
) -> None:
    messages = [message(i, t, roles[i], author) for i, t in enumerate(texts)]
    planned = plan_transcript(messages, title="Conversation transcript")

    # Every body within the API's byte limit.
    for comment in planned:
        assert len(comment.body.encode("utf-8")) <= COMMENT_BODY_MAX_BYTES
        for piece in comment.pieces:
            assert piece.text in comment.body

    # The pieces, in order, reassemble every message exactly.
    rebuilt: dict[int, str] = {}
    order: list[int] = []
    for comment in planned:
        for piece in comment.pieces:
            if not piece.continued:
                order.append(piece.message_index)
                assert piece.message_index not in rebuilt
                rebuilt[piece.message_index] = piece.text
            else:
                assert order[-1] == piece.message_index  # continues the last message
                rebuilt[piece.message_index] += piece.text
    assert order == list(range(len(messages)))
    assert [rebuilt[i] for i in order] == texts

    # The part counter is right.
    total = len(planned)
    for number, comment in enumerate(planned, start=1):
        assert comment.body.startswith(f"Conversation transcript — part {number} of {total}")


def test_short_messages_are_packed_into_one_comment() -> None:
    messages = [message(i, f"message {i}") for i in range(20)]
    planned = plan_transcript(messages, title="T")
    assert len(planned) == 1
    assert "Customer · 2026-11-25 01:40:00 UTC\nmessage 19" in planned[0].body


def test_a_long_message_continues_with_a_mark() -> None:
    planned = plan_transcript([message(0, "€" * 3000, author="Jane")], title="T")
    assert len(planned) == 3  # 9,000 bytes of text
    assert "Customer (Jane) · 2026-11-25 01:40:00 UTC (continued)" in planned[1].body
    assert "(continued)" not in planned[0].body


def test_the_same_messages_plan_the_same_bodies() -> None:
    messages = [message(i, "x" * (i * 300)) for i in range(30)]
    first = [c.body for c in plan_transcript(messages, title="T")]
    assert first == [c.body for c in plan_transcript(messages, title="T")]


def test_hook_bodies_are_cut_to_the_limit() -> None:
    bodies = split_bodies(["a" * 9000, "", "short"])
    assert [len(b) for b in bodies] == [4000, 4000, 1000, 5]


def test_a_time_with_another_offset_is_shown_in_utc() -> None:
    """The speaker line says UTC, so a host's local time is converted, not
    relabelled; a naive time is taken as UTC."""
    paris = datetime(2026, 11, 25, 2, 40, tzinfo=timezone(timedelta(hours=1)))
    naive = datetime(2026, 11, 25, 1, 40)
    for when in (paris, naive, WHEN):
        msg = Message(id="m1", role=Role.CONTACT, text="hi", created_at=when)
        [comment] = plan_transcript([msg], title="T")
        assert "Customer · 2026-11-25 01:40:00 UTC\nhi" in comment.body


@settings(max_examples=300, deadline=None)
@given(
    moment=st.datetimes(
        min_value=datetime(1, 1, 2),
        max_value=datetime(9999, 12, 30),
        timezones=st.one_of(
            st.none(),
            st.builds(timezone, st.timedeltas(timedelta(hours=-23), timedelta(hours=23))),
        ),
    )
)
def test_every_time_reads_as_its_utc_second(moment: datetime) -> None:
    """The speaker line's time is the moment in UTC to the second (the
    fraction cut, not rounded), whatever the offset, before 1970 too."""
    utc = moment if moment.tzinfo is None else moment.astimezone(UTC).replace(tzinfo=None)
    msg = Message(id="m1", role=Role.CONTACT, text="hi", created_at=moment)
    [comment] = plan_transcript([msg], title="T")
    expected = "%04d-%02d-%02d %02d:%02d:%02d UTC" % (  # noqa: UP031 (four-digit year)
        utc.year,
        utc.month,
        utc.day,
        utc.hour,
        utc.minute,
        utc.second,
    )
    assert f"Customer · {expected}\nhi" in comment.body
