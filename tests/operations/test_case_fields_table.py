"""[salesforce.case_fields]: Case fields from the session without a plugin,
checked against the org's describe, overridden by hooks."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest

from opencx_salesforce import Session, hookimpl
from opencx_salesforce.cases.fields import configured_fields
from opencx_salesforce.emulator.pytest_plugin import Handoff, HandoffFailed, StartStack
from opencx_salesforce.emulator.seed import (
    DEFAULT_CUSTOM_FIELDS,
    CustomFieldSeed,
    OrgSeed,
    default_org,
)
from opencx_salesforce.errors import ConfigError, ExtensionHookError
from opencx_salesforce.models import Contact
from opencx_salesforce.settings import load_settings


def org_with_plan_fields() -> OrgSeed:
    return replace(
        default_org(),
        custom_fields=(
            *DEFAULT_CUSTOM_FIELDS,
            CustomFieldSeed("Case", "Plan__c", "string", 40),
            CustomFieldSeed("Case", "Account_Ref__c", "string", 40),
            CustomFieldSeed("Case", "Seats__c", "double", 18),
        ),
    )


TABLE = {
    "Plan__c": "{metadata.plan}",
    "Account_Ref__c": "ACME-{metadata.account} via {channel}",
    "Seats__c": "{metadata.seats}",
}


async def test_mapped_fields_land_on_the_case(
    salesforce_stack: StartStack, salesforce_handoff: Handoff
) -> None:
    stack = await salesforce_stack(
        seed=org_with_plan_fields(), plugin_settings={"case_fields": TABLE}
    )
    session = await stack.host.create_session(
        topic="Upgrade",
        channel="email",
        metadata={"plan": "gold", "account": "42", "seats": 12},
    )
    case = await salesforce_handoff(stack, session.id)
    assert case["Plan__c"] == "gold"
    assert case["Account_Ref__c"] == "ACME-42 via email"
    assert case["Seats__c"] == 12  # one placeholder keeps the number a number


async def test_a_field_whose_value_is_missing_is_left_out(
    salesforce_stack: StartStack, salesforce_handoff: Handoff
) -> None:
    stack = await salesforce_stack(
        seed=org_with_plan_fields(), plugin_settings={"case_fields": TABLE}
    )
    session = await stack.host.create_session(topic="No plan known", metadata={"plan": "free"})
    case = await salesforce_handoff(stack, session.id)
    assert case["Plan__c"] == "free"
    assert case.get("Account_Ref__c") is None and case.get("Seats__c") is None


class PlanFromHook:
    @hookimpl
    def salesforce_case_fields(self, session: Session) -> dict[str, Any]:
        return {"Plan__c": "set by the hook"}


async def test_an_extension_hook_overrides_the_table(
    salesforce_stack: StartStack, salesforce_handoff: Handoff
) -> None:
    stack = await salesforce_stack(
        seed=org_with_plan_fields(),
        plugins={"plan-hook": PlanFromHook()},
        plugin_settings={"case_fields": {"Plan__c": "{metadata.plan}"}},
    )
    session = await stack.host.create_session(topic="Both", metadata={"plan": "gold"})
    case = await salesforce_handoff(stack, session.id)
    assert case["Plan__c"] == "set by the hook"


async def test_a_misspelt_field_is_refused_naming_it_with_the_real_one(
    salesforce_stack: StartStack, salesforce_handoff: Handoff
) -> None:
    stack = await salesforce_stack(
        seed=org_with_plan_fields(), plugin_settings={"case_fields": {"Plan_c": "{metadata.plan}"}}
    )
    session = await stack.host.create_session(
        topic="Typo", contact=Contact(email="t@example.com"), metadata={"plan": "gold"}
    )
    with pytest.raises(HandoffFailed) as failed:
        await salesforce_handoff(stack, session.id)
    assert (
        "[salesforce.case_fields]: field 'Plan_c': no such field on Case in this org "
        "(did you mean 'Plan__c'?)" in failed.value.error
    )
    assert not list(stack.org.rows("Case", False))  # nothing half-sent


class TypoHook:
    @hookimpl
    def salesforce_case_fields(self, session: Session) -> dict[str, Any]:
        return {"Subjet": "from a hook"}


async def test_a_hooks_misspelt_field_gets_did_you_mean(
    salesforce_stack: StartStack, salesforce_handoff: Handoff
) -> None:
    stack = await salesforce_stack(plugins={"typo-hook": TypoHook()})
    session = await stack.host.create_session(topic="Hook typo")
    with pytest.raises(HandoffFailed) as failed:
        await salesforce_handoff(stack, session.id)
    assert "plugin 'typo-hook': field 'Subjet'" in failed.value.error
    assert "(did you mean 'Subject'?)" in failed.value.error


def test_an_unknown_placeholder_fails_at_load_with_did_you_mean() -> None:
    with pytest.raises(ConfigError) as refused:
        load_settings(
            {"dev_mode": True, "case_fields": {"Plan__c": "{metdata.plan}", "X__c": "{langage}"}},
            env={},
        )
    message = str(refused.value)
    assert "case_fields" in message
    assert (
        "unknown placeholder {metdata.plan} in Plan__c (did you mean {metadata.plan}?)" in message
    )
    assert "unknown placeholder {langage} in X__c (did you mean {language}?)" in message


def test_the_plugins_own_fields_cannot_be_mapped() -> None:
    settings = load_settings({"dev_mode": True, "case_fields": {"case_from__c": "x"}}, env={})
    with pytest.raises(ExtensionHookError, match="set by the Salesforce plugin itself"):
        configured_fields(settings, Session(id="s_1"), {"Case_From__c"})
