"""``[salesforce] retention_days``: 180 by default, 0 to keep closed Cases' keys
for ever, and never below the 90 days a delivered reply's record lives; a
misspelt key names it."""

from __future__ import annotations

import pytest

from opencx_salesforce.errors import ConfigError
from opencx_salesforce.settings import load_settings

DEV: dict[str, object] = {"dev_mode": True}


def problem(section: dict[str, object], env: dict[str, str] | None = None) -> str:
    with pytest.raises(ConfigError) as caught:
        load_settings(section, env or {})
    return str(caught.value)


def test_the_default_keeps_closed_cases_half_a_year() -> None:
    assert load_settings(DEV, {}).retention_days == 180


@pytest.mark.parametrize("days", [0, 90, 365.5])
def test_zero_or_at_least_ninety_days_are_taken(days: float) -> None:
    assert load_settings({**DEV, "retention_days": days}, {}).retention_days == days
    env = {"OPENCX_SALESFORCE_RETENTION_DAYS": str(days)}
    assert load_settings(DEV, env).retention_days == days


@pytest.mark.parametrize("days", [1, 30, 89.9])
def test_fewer_than_ninety_days_is_refused_saying_why(days: float) -> None:
    message = problem({**DEV, "retention_days": days})
    assert message.startswith("salesforce.retention_days:"), message
    assert "0 (keep for ever) or at least 90 days" in message
    assert "delivered reply" in message


def test_a_negative_value_is_refused() -> None:
    assert problem({**DEV, "retention_days": -1}).startswith("salesforce.retention_days:")


def test_a_misspelt_key_suggests_retention_days() -> None:
    assert problem({**DEV, "retension_days": 180}) == (
        "salesforce.retension_days: unknown key (did you mean 'retention_days'?)"
    )
