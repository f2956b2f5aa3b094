"""Text is cut as Salesforce counts it and as a reader sees it (issue #15.5, #15.6).

Salesforce checks Subject (255) and Description (32,000) in UTF-16 code units, so
an emoji counts 2; a CaseComment body holds 4,000 UTF-8 bytes. A cut never falls
inside an extended grapheme cluster (a flag, a family emoji). Driven through the
reference host and the emulator, whose validation counts UTF-16 code units.
"""

from __future__ import annotations

from handoff_support import comments_of, converse, handoff_and_wait

from opencx_salesforce.cases.transcript import COMMENT_BODY_MAX_BYTES
from opencx_salesforce.devhost.stack import Stack
from opencx_salesforce.models import Contact
from opencx_salesforce.salesforce.text import clusters, utf16_len

FLAG = "🇯🇵"
FAMILY = "👨\u200d👩\u200d👧\u200d👦"


def message_pieces(bodies: list[str]) -> list[str]:
    """The message text in each comment of a one-message transcript: a body is
    a header, a blank line, a speaker line, then the text."""
    pieces = []
    for body in bodies:
        _, _, block = body.partition("\n\n")
        _, _, text = block.partition("\n")
        pieces.append(text)
    return pieces


async def one_message_handoff(stack: Stack, text: str) -> list[str]:
    session = await converse(stack.host, texts=[text], contact=Contact(name="Anon"))
    case_id = await handoff_and_wait(stack.host, session.id)
    bodies = [c["CommentBody"] for c in comments_of(stack, case_id)]
    assert all(len(b.encode()) <= COMMENT_BODY_MAX_BYTES for b in bodies)
    return message_pieces(bodies)


async def test_a_topic_of_300_emoji_lands_with_its_subject_cut_in_utf16(stack: Stack) -> None:
    session = await converse(stack.host, texts=["hi"], topic="😀" * 300)
    case_id = await handoff_and_wait(stack.host, session.id)  # no STRING_TOO_LONG
    case = stack.org.get("Case", case_id)
    assert case is not None
    assert case["Subject"] == "😀" * 127 + "…"
    assert utf16_len(case["Subject"]) == 255


async def test_a_subject_never_ends_inside_a_family_emoji(stack: Stack) -> None:
    session = await converse(stack.host, texts=["hi"], topic="a" + FAMILY * 100)
    case_id = await handoff_and_wait(stack.host, session.id)
    case = stack.org.get("Case", case_id)
    assert case is not None
    subject = case["Subject"]
    assert utf16_len(subject) <= 255 and subject.endswith("…")
    assert subject[1:-1] == FAMILY * ((254 - 1) // utf16_len(FAMILY))


async def test_a_long_description_is_cut_in_utf16_at_a_cluster_boundary(stack: Stack) -> None:
    session = await converse(stack.host, texts=["hi"], summary="y" + FLAG * 9000)
    case_id = await handoff_and_wait(stack.host, session.id)
    case = stack.org.get("Case", case_id)
    assert case is not None
    description = case["Description"]
    assert utf16_len(description) <= 32000
    assert description[1:-1].replace(FLAG, "") == ""


async def test_a_flag_message_is_split_only_between_whole_flags(stack: Stack) -> None:
    text = "y" + FLAG * 600
    pieces = await one_message_handoff(stack, text)
    assert len(pieces) >= 2
    assert "".join(pieces) == text  # reassembles byte for byte
    assert pieces[0].startswith("y")
    # Every comment holds whole flags: no lone regional indicator ("JP" boxes).
    assert all(p.removeprefix("y").replace(FLAG, "") == "" for p in pieces)


async def test_a_family_emoji_transcript_splits_only_between_clusters(stack: Stack) -> None:
    text = "ab" + FAMILY * 400
    pieces = await one_message_handoff(stack, text)
    assert len(pieces) >= 2
    assert "".join(pieces) == text
    assert [c for p in pieces for c in clusters(p)] == list(clusters(text))
