"""Text field lengths are counted as Salesforce counts them: Java chars, i.e. UTF-16
code units, so an emoji counts 2; CaseComment.CommentBody in UTF-8 bytes. Past the
limit: STRING_TOO_LONG, "<Field Label>: data value too large: <value> (max
length=<n>)". [src: help.salesforce.com article 005166849; SALESFORCE.md §6, §9]"""

from __future__ import annotations

import pytest
from emulator_support import RestCaller
from platform_support import a_case, only_error

EMOJI = "\U0001f389"  # 🎉: 1 code point, 2 UTF-16 units, 4 UTF-8 bytes
FAMILY = "\U0001f468\u200d\U0001f469\u200d\U0001f467"  # 8 UTF-16 units


async def test_a_topic_of_300_emoji_is_too_long_for_subject(rest: RestCaller) -> None:
    topic = EMOJI * 300  # 300 code points (Python len), 600 Java chars
    reply = await rest.post("sobjects/Case", {"Subject": topic})
    assert reply.status == 400
    error = only_error(reply)
    assert error == {
        "message": f"Subject: data value too large: {topic} (max length=255)",
        "errorCode": "STRING_TOO_LONG",
        "fields": ["Subject"],
    }


@pytest.mark.parametrize(
    ("subject", "fits"),
    [
        (EMOJI * 127, True),  # 254
        (EMOJI * 127 + "x", True),  # 255
        (EMOJI * 128, False),  # 256, though only 128 code points
        ("x" * 255, True),
        ("x" * 256, False),
        (FAMILY * 31 + "xxxxxxx", True),  # 248 + 7
        (FAMILY * 32, False),  # 256
    ],
)
async def test_subject_counts_utf16_units(rest: RestCaller, subject: str, fits: bool) -> None:
    reply = await rest.post("sobjects/Case", {"Subject": subject})
    assert (reply.status == 201) is fits, reply.body


async def test_description_counts_utf16_units(rest: RestCaller) -> None:
    assert (await rest.post("sobjects/Case", {"Description": EMOJI * 16000})).status == 201
    reply = await rest.post("sobjects/Case", {"Description": EMOJI * 16000 + "x"})
    assert only_error(reply)["errorCode"] == "STRING_TOO_LONG"


async def test_custom_text_fields_count_utf16_units_too(rest: RestCaller) -> None:
    # Case_From__c is Text(40).
    assert (await rest.post("sobjects/Case", {"Case_From__c": EMOJI * 20})).status == 201
    reply = await rest.post("sobjects/Case", {"Case_From__c": EMOJI * 20 + "x"})
    assert only_error(reply)["fields"] == ["Case_From__c"]


async def test_updates_are_checked_the_same_way(rest: RestCaller) -> None:
    case_id = await a_case(rest)
    reply = await rest.patch(f"sobjects/Case/{case_id}", {"Subject": EMOJI * 128})
    assert only_error(reply)["errorCode"] == "STRING_TOO_LONG"


async def test_comment_body_stays_a_byte_limit(rest: RestCaller) -> None:
    case_id = await a_case(rest)
    fits = await rest.post(
        "sobjects/CaseComment", {"ParentId": case_id, "CommentBody": EMOJI * 1000}
    )
    assert fits.status == 201, fits.body  # 4,000 bytes
    reply = await rest.post(
        "sobjects/CaseComment", {"ParentId": case_id, "CommentBody": EMOJI * 1000 + "x"}
    )
    assert only_error(reply)["errorCode"] == "STRING_TOO_LONG"
