"""The records every new org starts with: profiles, the Automated Process user,
the seeded users, the Organization row and the Case statuses."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from opencx_salesforce.emulator.org import Org, Record


def seed_records(org: Org) -> str:
    """Insert the seed records; returns the Automated Process user's Id."""
    seed = org.seed
    system_user = org.state.ids.new("005")
    profiles: dict[str, str] = {}
    for name in dict.fromkeys(
        ["System Administrator", *(u.profile for u in seed.users), "Automated Process"]
    ):
        profiles[name] = _insert(org, "Profile", {"Name": name}, system_user)
    _insert(
        org,
        "User",
        {
            "Username": f"autoproc@{org.id.lower()}",
            "LastName": "Automated Process",
            "Email": f"autoproc@{org.id.lower()}",
            "Alias": "autoproc",
            "UserType": "AutomatedProcess",
            "IsActive": True,
            "ProfileId": profiles["Automated Process"],
            "TimeZoneSidKey": "GMT",
        },
        system_user,
        record_id=system_user,
    )
    for user in seed.users:
        _insert(
            org,
            "User",
            {
                "Username": user.username,
                "FirstName": user.first_name,
                "LastName": user.last_name,
                "Email": user.email,
                "Alias": (user.first_name[:1] + user.last_name[:4]).lower(),
                "UserType": user.user_type,
                "IsActive": user.is_active,
                "ProfileId": profiles[user.profile],
                "TimeZoneSidKey": "GMT",
            },
            system_user,
            record_id=org.identity.user_ids[user.username],
        )
    _insert(
        org,
        "Organization",
        {
            "Name": seed.name,
            "IsSandbox": seed.is_sandbox,
            "OrganizationType": "Developer Edition",
            "InstanceName": "EMU5G",
            "LanguageLocaleKey": "en_US",
            "TimeZoneSidKey": "GMT",
        },
        system_user,
        record_id=org.id,
    )
    default_seen = False
    for order, (status, closed) in enumerate(seed.case_statuses, start=1):
        _insert(
            org,
            "CaseStatus",
            {
                "MasterLabel": status,
                "ApiName": status,
                "SortOrder": order,
                "IsDefault": not default_seen and not closed,
                "IsClosed": closed,
            },
            system_user,
        )
        default_seen = default_seen or not closed
    return system_user


def _insert(
    org: Org,
    sobject: str,
    values: Record,
    user_id: str,
    *,
    record_id: str | None = None,
) -> str:
    return org.insert(sobject, values, user_id=user_id, record_id=record_id)
