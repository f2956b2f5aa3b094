"""language_routing: the conversation's language reaches the Case, end to end
(reference host -> Salesforce plugin -> emulated org over HTTP)."""

from __future__ import annotations

from dataclasses import replace

import pytest
from language_routing import LanguageRouting

from opencx_salesforce.emulator.pytest_plugin import Handoff, StartStack
from opencx_salesforce.emulator.seed import (
    DEFAULT_CUSTOM_FIELDS,
    CustomFieldSeed,
    OrgSeed,
    default_org,
)


def org_with_support_queue() -> OrgSeed:
    return replace(
        default_org(),
        custom_fields=(*DEFAULT_CUSTOM_FIELDS, CustomFieldSeed("Case", "Support_Queue__c")),
    )


async def test_the_language_is_written_as_it_is_by_default(
    salesforce_stack: StartStack, salesforce_handoff: Handoff
) -> None:
    stack = await salesforce_stack(plugins={"language-routing": LanguageRouting()})
    session = await stack.host.create_session(topic="Hilfe", language="de-AT")

    case = await salesforce_handoff(stack, session.id)

    assert case["OpenCX_Language__c"] == "de-AT"


@pytest.mark.parametrize(
    ("language", "queue"),
    [
        ("de-AT", "German Support"),  # by its language alone
        ("pt_br", "Brazil Support"),  # whole tag, any case, "_" as "-"
        ("pt-PT", "Global Support"),  # not listed: the fallback
        (None, "Global Support"),
    ],
)
async def test_languages_are_translated_to_routing_values(
    salesforce_stack: StartStack, salesforce_handoff: Handoff, language: str | None, queue: str
) -> None:
    plugin = LanguageRouting(
        field="Support_Queue__c",
        values={"de": "German Support", "pt-BR": "Brazil Support"},
        fallback="Global Support",
    )
    stack = await salesforce_stack(seed=org_with_support_queue(), plugins={"routing": plugin})
    session = await stack.host.create_session(topic="Help", language=language)

    case = await salesforce_handoff(stack, session.id)

    assert case["Support_Queue__c"] == queue


async def test_without_a_language_or_fallback_the_field_stays_empty(
    salesforce_stack: StartStack, salesforce_handoff: Handoff
) -> None:
    stack = await salesforce_stack(plugins={"language-routing": LanguageRouting()})
    session = await stack.host.create_session(topic="Help", language=None)

    case = await salesforce_handoff(stack, session.id)

    assert case.get("OpenCX_Language__c") is None
