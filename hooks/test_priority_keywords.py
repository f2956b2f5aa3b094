"""priority_keywords: the customer's words raise the Case's Priority, end to end
(reference host -> Salesforce plugin -> emulated org over HTTP)."""

from __future__ import annotations

import pytest
from priority_keywords import PriorityKeywords

from opencx_salesforce import Role
from opencx_salesforce.emulator.pytest_plugin import Handoff, StartStack

# What a Case gets when nobody sets Priority: the picklist's default in a new org.
ORG_DEFAULT_PRIORITY = "Medium"


async def case_priority(
    salesforce_stack: StartStack,
    salesforce_handoff: Handoff,
    plugin: PriorityKeywords,
    conversation: list[tuple[Role, str]],
    bot_priority: str | None = None,
) -> str:
    stack = await salesforce_stack(plugins={"priority-keywords": plugin})
    session = await stack.host.create_session(topic="Help", priority=bot_priority)
    for role, text in conversation:
        await stack.host.post_message(session.id, role, text)
    case = await salesforce_handoff(stack, session.id)
    return str(case["Priority"])


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("We have an OUTAGE, nothing loads.", "High"),
        ("Urgent: please call me", "High"),
        ("I want a refund!", "High"),
        ("I was refunded already, thanks", ORG_DEFAULT_PRIORITY),  # not a whole word
        ("Where can I change my password?", ORG_DEFAULT_PRIORITY),
    ],
)
async def test_keywords_set_high_priority(
    salesforce_stack: StartStack, salesforce_handoff: Handoff, text: str, expected: str
) -> None:
    priority = await case_priority(
        salesforce_stack, salesforce_handoff, PriorityKeywords(), [(Role.CONTACT, text)]
    )
    assert priority == expected


async def test_the_bots_words_do_not_count(
    salesforce_stack: StartStack, salesforce_handoff: Handoff
) -> None:
    conversation = [
        (Role.CONTACT, "My invoice looks odd."),
        (Role.BOT, "Is this urgent, or can it wait for a refund review?"),
    ]
    priority = await case_priority(
        salesforce_stack, salesforce_handoff, PriorityKeywords(), conversation
    )
    assert priority == ORG_DEFAULT_PRIORITY


async def test_configured_keywords_and_multi_word_phrases(
    salesforce_stack: StartStack, salesforce_handoff: Handoff
) -> None:
    plugin = PriorityKeywords({"High": ["money back"], "Low": ["feedback"]})
    conversation = [(Role.CONTACT, "Some feedback: I want my Money Back.")]
    priority = await case_priority(salesforce_stack, salesforce_handoff, plugin, conversation)
    assert priority == "High"  # both matched; the more urgent wins


async def test_a_keyword_never_lowers_the_bots_priority(
    salesforce_stack: StartStack, salesforce_handoff: Handoff
) -> None:
    plugin = PriorityKeywords({"High": ["outage"], "Low": ["feedback"]})
    conversation = [(Role.CONTACT, "Just some feedback on the app.")]
    priority = await case_priority(
        salesforce_stack, salesforce_handoff, plugin, conversation, bot_priority="high"
    )
    assert priority == "High"


async def test_a_keyword_raises_the_bots_low_priority(
    salesforce_stack: StartStack, salesforce_handoff: Handoff
) -> None:
    conversation = [(Role.CONTACT, "Total outage since 9am.")]
    priority = await case_priority(
        salesforce_stack, salesforce_handoff, PriorityKeywords(), conversation, bot_priority="low"
    )
    assert priority == "High"


def test_a_priority_outside_the_ranking_is_refused() -> None:
    with pytest.raises(ValueError, match="Critical"):
        PriorityKeywords({"Critical": ["outage"]})


def test_an_empty_keyword_is_refused() -> None:
    # It would match everywhere.
    with pytest.raises(ValueError, match="non-empty"):
        PriorityKeywords({"High": ["outage", " "]})
