"""The identity service's documents: the identity URL (the token's ``id``) and the
OpenID Connect UserInfo endpoint.

Identity URL fields: [src: developer.salesforce.com mobile-sdk
oauth-using-identity-urls.html; SALESFORCE.md §1]. Its ``urls`` carry a literal
``{version}`` that the client replaces, unless the request names one with
``?version=NN.N`` or ``?version=latest``. UserInfo fields: [src: help.salesforce.com
remoteaccess_using_userinfo_endpoint.htm "Query for User Information"].
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

from opencx_salesforce.emulator.oauth.directory import OrgEntry, UserEntry
from opencx_salesforce.emulator.oauth.errors import IdentityRefused

VERSION_PLACEHOLDER = "{version}"
_VERSION = re.compile(r"^\d{2,3}\.\d$")

# Settings the seed does not carry; the values a new Developer Edition user has.
TIMEZONE = "America/Los_Angeles"
UTC_OFFSET_MS = -28_800_000
LANGUAGE = "en_US"
LOCALE = "en_US"


def api_version_for(request_version: str | None, org: OrgEntry) -> str:
    """What replaces ``{version}``: the placeholder itself when none is asked,
    the org's newest version for ``latest``, or the number asked."""
    if request_version is None or request_version == "":
        return VERSION_PLACEHOLDER
    if request_version == "latest":
        return org.api_version
    if _VERSION.match(request_version):
        return request_version
    raise IdentityRefused(406, "Invalid_Version")


def user_type_code(user_type: str) -> str:
    """``User.UserType`` ("PowerCustomerSuccess") as the identity service spells it
    ("POWER_CUSTOMER_SUCCESS")."""
    return re.sub(r"(?<!^)(?=[A-Z])", "_", user_type).upper()


def _urls(instance_url: str, org_id: str, user_id: str, version: str) -> dict[str, str]:
    org15 = org_id[:15]
    data = f"{instance_url}/services/data/v{version}/"
    return {
        "enterprise": f"{instance_url}/services/Soap/c/{version}/{org15}",
        "metadata": f"{instance_url}/services/Soap/m/{version}/{org15}",
        "partner": f"{instance_url}/services/Soap/u/{version}/{org15}",
        "rest": data,
        "sobjects": data + "sobjects/",
        "search": data + "search/",
        "query": data + "query/",
        "recent": data + "recent/",
        "tooling_soap": f"{instance_url}/services/Soap/T/{version}/{org15}",
        "tooling_rest": data + "tooling/",
        "profile": f"{instance_url}/{user_id}",
        "feeds": data + "chatter/feeds",
        "groups": data + "chatter/groups",
        "users": data + "chatter/users",
        "feed_items": data + "chatter/feed-items",
        "feed_elements": data + "chatter/feed-elements",
        "custom_domain": instance_url,
    }


def _photos(instance_url: str) -> dict[str, str]:
    return {
        "picture": f"{instance_url}/profilephoto/005/F",
        "thumbnail": f"{instance_url}/profilephoto/005/T",
    }


def _nickname(user: UserEntry) -> str:
    return user.username.split("@", 1)[0]


def _display_name(user: UserEntry) -> str:
    return f"{user.seed.first_name} {user.seed.last_name}".strip()


def _timestamp(seconds: float) -> str:
    return datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def identity_document(
    *,
    identity_url: str,
    instance_url: str,
    org: OrgEntry,
    user: UserEntry,
    asserted: bool,
    version: str,
    modified_at: float,
) -> dict[str, Any]:
    seed = user.seed
    return {
        "id": identity_url,
        "asserted_user": asserted,
        "user_id": user.user_id,
        "organization_id": org.org_id,
        "username": user.username,
        "nick_name": _nickname(user),
        "display_name": _display_name(user),
        "email": seed.email,
        "email_verified": True,
        "first_name": seed.first_name,
        "last_name": seed.last_name,
        "timezone": TIMEZONE,
        "photos": _photos(instance_url),
        "addr_street": None,
        "addr_city": None,
        "addr_state": None,
        "addr_country": "US",
        "addr_zip": None,
        "mobile_phone": None,
        "mobile_phone_verified": False,
        "is_lightning_login_user": False,
        "status": {"created_date": None, "body": None},
        "urls": _urls(instance_url, org.org_id, user.user_id, version),
        "active": user.active,
        "user_type": user_type_code(seed.user_type),
        "language": LANGUAGE,
        "locale": LOCALE,
        "utcOffset": UTC_OFFSET_MS,
        "last_modified_date": _timestamp(modified_at).replace("Z", ".000+0000"),
        "is_app_installed": True,
    }


def userinfo_document(
    *,
    identity_url: str,
    instance_url: str,
    org: OrgEntry,
    user: UserEntry,
    version: str,
    modified_at: float,
) -> dict[str, Any]:
    seed = user.seed
    photos = _photos(instance_url)
    return {
        "sub": identity_url,
        "user_id": user.user_id,
        "organization_id": org.org_id,
        "preferred_username": user.username,
        "nickname": _nickname(user),
        "name": _display_name(user),
        "email": seed.email,
        "email_verified": True,
        "given_name": seed.first_name,
        "family_name": seed.last_name,
        "zoneinfo": TIMEZONE,
        "photos": photos,
        "profile": f"{instance_url}/{user.user_id}",
        "picture": photos["picture"],
        "address": {"country": "US"},
        "is_salesforce_integration_user": False,
        "urls": _urls(instance_url, org.org_id, user.user_id, version),
        "active": user.active,
        "user_type": user_type_code(seed.user_type),
        "language": LANGUAGE,
        "locale": LOCALE,
        "utcOffset": UTC_OFFSET_MS,
        "updated_at": _timestamp(modified_at),
        "is_app_installed": True,
    }
