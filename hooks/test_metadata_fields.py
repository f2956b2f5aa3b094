"""metadata_fields: session metadata reaches custom Case fields, end to end
(reference host -> Salesforce plugin -> emulated org over HTTP)."""

from __future__ import annotations

from dataclasses import replace

import pytest
from metadata_fields import MetadataFields

from opencx_salesforce import Role
from opencx_salesforce.emulator.pytest_plugin import Handoff, HandoffFailed, StartStack
from opencx_salesforce.emulator.seed import (
    DEFAULT_CUSTOM_FIELDS,
    CustomFieldSeed,
    OrgSeed,
    default_org,
)
from opencx_salesforce.store.base import ItemState

MAPPING = {"plan": "Plan__c", "order_id": "Order_Id__c"}


def org_with_plan_and_order() -> OrgSeed:
    """The default org plus the two custom fields the mapping names."""
    return replace(
        default_org(),
        custom_fields=(
            *DEFAULT_CUSTOM_FIELDS,
            CustomFieldSeed("Case", "Plan__c", "string", 40),
            CustomFieldSeed("Case", "Order_Id__c", "string", 20),
        ),
    )


async def test_mapped_metadata_reaches_the_case(
    salesforce_stack: StartStack, salesforce_handoff: Handoff
) -> None:
    stack = await salesforce_stack(
        seed=org_with_plan_and_order(),
        plugins={"metadata-fields": MetadataFields(MAPPING)},
    )
    session = await stack.host.create_session(
        topic="Refund for order A-1001",
        metadata={"plan": "gold", "order_id": "A-1001", "browser": "Firefox"},
    )
    await stack.host.post_message(session.id, Role.CONTACT, "I was charged twice.")

    case = await salesforce_handoff(stack, session.id)

    assert case["Plan__c"] == "gold"
    assert case["Order_Id__c"] == "A-1001"
    assert case["Subject"] == "Refund for order A-1001"
    assert case["Case_From__c"] == "opencx"


async def test_a_missing_key_leaves_its_field_empty(
    salesforce_stack: StartStack, salesforce_handoff: Handoff
) -> None:
    stack = await salesforce_stack(
        seed=org_with_plan_and_order(),
        plugins={"metadata-fields": MetadataFields(MAPPING)},
    )
    session = await stack.host.create_session(topic="Question", metadata={"plan": "free"})

    case = await salesforce_handoff(stack, session.id)

    assert case["Plan__c"] == "free"
    assert case.get("Order_Id__c") is None


async def test_no_mapped_key_at_all_still_makes_the_case(
    salesforce_stack: StartStack, salesforce_handoff: Handoff
) -> None:
    # The default org lacks Plan__c: a session without the key never asks for it.
    stack = await salesforce_stack(plugins={"metadata-fields": MetadataFields(MAPPING)})
    session = await stack.host.create_session(topic="Question", metadata={})

    case = await salesforce_handoff(stack, session.id)

    assert case["Subject"] == "Question"


async def test_a_field_missing_from_the_org_dead_letters_the_handoff_naming_plugin_and_field(
    salesforce_stack: StartStack, salesforce_handoff: Handoff
) -> None:
    # The default org has no Plan__c: the mapping is wrong for this org.
    stack = await salesforce_stack(plugins={"metadata-fields": MetadataFields(MAPPING)})
    session = await stack.host.create_session(topic="Refund", metadata={"plan": "gold"})

    with pytest.raises(HandoffFailed) as failed:
        await salesforce_handoff(stack, session.id)

    [dead] = await stack.runtime.outbox.items(ItemState.DEAD)
    assert dead.last_error == failed.value.error
    assert "plugin 'metadata-fields'" in dead.last_error
    assert "field 'Plan__c'" in dead.last_error
    assert "no such field on Case" in dead.last_error
    assert list(stack.org.rows("Case", False)) == []
