"""Text measured as Salesforce counts it (UTF-16 code units, UTF-8 bytes for comment
bodies) and cut only where a reader sees a character boundary (UAX #29)."""

from __future__ import annotations

import pytest
import regex
from hypothesis import given, settings
from hypothesis import strategies as st

from opencx_salesforce.salesforce.text import (
    COMMENT_BODY_MAX_BYTES,
    clusters,
    cut_to,
    split_for_comments,
    utf8_len,
    utf16_len,
)

FLAG_JP = "\U0001f1ef\U0001f1f5"  # 🇯🇵: two regional indicators, one cluster
FAMILY = "\U0001f468\u200d\U0001f469\u200d\U0001f467\u200d\U0001f466"  # 👨‍👩‍👧‍👦
PARTY = "\U0001f389"  # 🎉, outside the BMP: 2 UTF-16 units, 4 UTF-8 bytes
SUBJECT_MAX = 255  # Case.Subject, Text(255)

# Text built from what tends to break cutters: astral emoji, flags, ZWJ sequences,
# skin tones, combining marks, CRLF, plain ASCII and CJK.
_PIECES = st.sampled_from(
    [
        "a",
        " ",
        "\n",
        "\r\n",
        "é",
        "e\u0301",
        "\u4e2d",
        PARTY,
        FLAG_JP,
        FAMILY,
        "\U0001f44d\U0001f3fd",  # thumbs up, medium skin tone
        "\u0915\u094d\u0937",  # Devanagari conjunct
        "\u200d",
        "\U0001f1ef",  # a lone regional indicator
    ]
)
TEXTS = st.lists(_PIECES, max_size=400).map("".join) | st.text(max_size=300)


def _cluster_ends(text: str) -> set[int]:
    """Offsets (in code points) where a cluster ends."""
    ends, at = {0}, 0
    for cluster in clusters(text):
        at += len(cluster)
        ends.add(at)
    return ends


# --- utf16_len --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "units"),
    [
        ("", 0),
        ("Case", 4),
        ("é", 1),
        ("\u4e2d\u6587", 2),
        (PARTY, 2),
        ("\U00020b9f", 2),  # 𠮟, the help article's example: LEN() = 2
        (FLAG_JP, 4),
        (FAMILY, 11),
    ],
)
def test_utf16_len_counts_java_chars(text: str, units: int) -> None:
    assert utf16_len(text) == units


@given(st.text())
def test_utf16_len_is_the_utf16_encoding_length(text: str) -> None:
    assert utf16_len(text) == len(text.encode("utf-16-le", "surrogatepass")) // 2


# --- cut_to -----------------------------------------------------------------------------


def test_a_topic_of_300_emoji_is_cut_to_what_subject_holds() -> None:
    topic = PARTY * 300  # 300 code points, 600 UTF-16 units: Salesforce refuses it
    subject = cut_to(topic, SUBJECT_MAX)
    assert utf16_len(subject) == 254  # 127 whole emoji; a 128th would need 256
    assert subject == PARTY * 127


def test_a_cut_subject_never_ends_inside_a_family_emoji() -> None:
    topic = "Help " + FAMILY * 30  # 5 + 330 units
    subject = cut_to(topic, SUBJECT_MAX)
    assert subject == "Help " + FAMILY * 22  # 5 + 242 = 247; a 23rd family would need 258
    assert subject.endswith(FAMILY)


def test_cut_to_keeps_flags_whole() -> None:
    assert cut_to("y" + FLAG_JP * 3, 6) == "y" + FLAG_JP  # 1 + 4; another flag needs 9
    # The documented exception: a first cluster that alone exceeds the limit is cut
    # at a code point rather than dropping the whole text.
    assert cut_to(FLAG_JP, 3) == "\U0001f1ef"


def test_cut_to_leaves_short_text_alone() -> None:
    assert cut_to("Printer on fire", SUBJECT_MAX) == "Printer on fire"
    assert cut_to("", 0) == ""


def test_a_single_cluster_longer_than_the_limit_is_cut_at_a_code_point() -> None:
    zalgo = "Z" + "\u0301" * 300  # one cluster of 301 code points
    cut = cut_to(zalgo, SUBJECT_MAX)
    assert cut == zalgo[:SUBJECT_MAX]


def test_cut_to_refuses_a_negative_limit() -> None:
    with pytest.raises(ValueError):
        cut_to("x", -1)


@settings(max_examples=300)
@given(TEXTS, st.integers(min_value=0, max_value=400))
def test_cut_to_is_the_longest_fitting_cluster_prefix(text: str, limit: int) -> None:
    _assert_longest_fitting_cluster_prefix(text, limit)


# ASCII takes a shortcut (a character a cluster, but CR LF): the same answers.
_ASCII_TEXTS = st.lists(st.sampled_from(["a", " ", "\n", "\r\n", "\r", "x."]), max_size=200).map(
    "".join
)


@settings(max_examples=300)
@given(_ASCII_TEXTS, st.integers(min_value=0, max_value=250))
def test_cut_to_on_ascii_is_the_longest_fitting_cluster_prefix(text: str, limit: int) -> None:
    _assert_longest_fitting_cluster_prefix(text, limit)


def test_cut_to_never_cuts_ascii_between_cr_and_lf() -> None:
    assert cut_to("ab\r\ncd", 3) == "ab"
    assert cut_to("\r\nab", 1) == "\r"  # a first cluster over the limit: a code point


def _assert_longest_fitting_cluster_prefix(text: str, limit: int) -> None:
    cut = cut_to(text, limit)
    assert text.startswith(cut)
    assert utf16_len(cut) <= limit
    first = next(clusters(text), "")
    if utf16_len(first) <= limit:
        assert len(cut) in _cluster_ends(text)
        rest = text[len(cut) :]
        if rest:
            # the next whole cluster would not have fitted
            assert utf16_len(cut) + utf16_len(next(clusters(rest))) > limit


# --- split_for_comments -----------------------------------------------------------------


def test_a_flag_transcript_keeps_every_flag_whole() -> None:
    message = "y" + FLAG_JP * 600  # 1 + 600 * 8 bytes = 4,801 bytes
    chunks = split_for_comments(message)
    assert "".join(chunks) == message
    assert [utf8_len(chunk) for chunk in chunks] == [1 + 8 * 499, 8 * 101]
    assert chunks[0].endswith(FLAG_JP)
    assert chunks[1] == FLAG_JP * 101  # no "PJ": every flag in comment 2 is a flag


def test_a_family_transcript_keeps_every_family_whole() -> None:
    message = ("We are " + FAMILY + " ") * 200
    chunks = split_for_comments(message)
    assert "".join(chunks) == message
    for chunk in chunks:
        assert utf8_len(chunk) <= COMMENT_BODY_MAX_BYTES
        assert regex.sub(FAMILY, "", chunk).count("\u200d") == 0  # no joiner left loose


def test_a_long_text_prefers_to_break_after_a_line_then_a_space() -> None:
    line = "word " * 150 + "\n"  # 751 bytes
    chunks = split_for_comments(line * 10)
    assert all(chunk.endswith("\n") for chunk in chunks[:-1])
    words = split_for_comments("word " * 2000)
    assert all(chunk.endswith(" ") for chunk in words)


def test_an_empty_text_gives_no_chunks() -> None:
    assert split_for_comments("") == []


def test_a_single_cluster_over_the_limit_is_cut_only_at_code_points() -> None:
    huge = "a" + "\u0301" * 3000  # one cluster of 6,001 bytes
    chunks = split_for_comments("before " + huge + " after", max_bytes=4000)
    assert "".join(chunks) == "before " + huge + " after"
    assert chunks[0] == "before "
    assert all(utf8_len(chunk) <= 4000 for chunk in chunks)
    for chunk in chunks:
        chunk.encode("utf-8")  # whole code points only


def test_split_for_comments_refuses_a_limit_below_one_code_point() -> None:
    with pytest.raises(ValueError):
        split_for_comments("x", max_bytes=3)


@settings(max_examples=300)
@given(TEXTS, st.integers(min_value=4, max_value=120))
def test_chunks_fit_join_back_and_cut_only_between_clusters(text: str, limit: int) -> None:
    chunks = split_for_comments(text, max_bytes=limit)
    assert "".join(chunks) == text
    assert all(chunk and utf8_len(chunk) <= limit for chunk in chunks)
    ends = _cluster_ends(text)
    oversized = [c for c in clusters(text) if utf8_len(c) > limit]
    at = 0
    for chunk in chunks[:-1]:
        at += len(chunk)
        if not oversized:
            assert at in ends
