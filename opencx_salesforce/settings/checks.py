"""Checks of single ``[salesforce]`` values, one function per kind of value: each
returns the value as the plugin keeps it (trimmed, normalised) or raises
ValueError saying what was expected, which the loader turns into a ConfigError
naming the key. :class:`~.model.SalesforceSettings` calls them from its field
validators, so the model file stays a list of settings.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlsplit

from cryptography.fernet import Fernet
from pydantic import SecretStr

from opencx_salesforce.settings.loader import check_service_url

FERNET_HOWTO = (
    "make one with: python -c 'from cryptography.fernet import Fernet; "
    "print(Fernet.generate_key().decode())'"
)
_HOST_PORT = re.compile(r"^(?:\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9_.-]+):\d{1,5}$")
_API_VERSION = re.compile(r"^\d{2,3}\.\d$")
# A custom field's API name, optionally with a managed package namespace:
# Name__c or ns__Name__c; letters, digits and single underscores.
_NAME_PART = r"[A-Za-z][A-Za-z0-9]*(?:_[A-Za-z0-9]+)*"
_CUSTOM_FIELD = re.compile(rf"^(?:{_NAME_PART}__)?{_NAME_PART}__c$")


def none_if_blank(value: Any) -> Any:
    """None for a blank string: an environment variable set to "" means "not set",
    as in most deployments."""
    if isinstance(value, str) and not value.strip():
        return None
    return value


def check_login_url(value: str) -> str:
    url = check_service_url(value, example="https://login.salesforce.com")
    if urlsplit(url).path not in ("", "/"):
        # The plugin appends /services/oauth2/...; a path here would be doubled.
        raise ValueError(
            "expected the site root such as https://login.salesforce.com, without a path"
        )
    return url


def check_listen_address(value: str | None) -> str | None:
    if value is not None and not _HOST_PORT.match(value.strip()):
        raise ValueError("expected host:port such as 127.0.0.1:9464")
    return value.strip() if value else None


def scopes_from_list(value: Any) -> Any:
    """A TOML list of scopes as the space-separated string OAuth uses."""
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return " ".join(value)
    return value


def check_scopes(value: str) -> str:
    scopes = value.split()
    if not scopes:
        raise ValueError("expected space-separated OAuth scopes such as 'full refresh_token'")
    # refresh_token and offline_access name the same scope, "Perform requests at
    # any time" [src: help.salesforce.com remoteaccess_oauth_tokens_scopes.htm].
    if "refresh_token" not in scopes and "offline_access" not in scopes:
        raise ValueError(
            "expected the scopes to include refresh_token (or offline_access): without "
            "a refresh token the plugin stops working when the access token expires"
        )
    return " ".join(scopes)


def api_version_text(value: Any) -> Any:
    """``62.0`` without quotes (a TOML float) and ``v62.0`` mean ``"62.0"``."""
    if isinstance(value, float):
        return f"{value:.1f}"
    if isinstance(value, str) and value.strip().lower().startswith("v"):
        return value.strip()[1:]
    return value


def check_api_version(value: str) -> str:
    if not _API_VERSION.match(value.strip()):
        raise ValueError("expected an API version such as 62.0")
    return value.strip()


def check_encryption_key(value: SecretStr | None) -> SecretStr | None:
    if value is None:
        return None
    try:
        Fernet(value.get_secret_value().strip().encode())
    except (ValueError, TypeError):
        raise ValueError(
            "expected a Fernet key (32 url-safe base64-encoded bytes); " + FERNET_HOWTO
        ) from None
    return SecretStr(value.get_secret_value().strip())


def check_signing_secret(value: SecretStr | None) -> SecretStr | None:
    if value is not None and len(value.get_secret_value()) < 16:
        raise ValueError("expected at least 16 characters (a long random string)")
    return value


def check_custom_field_name(value: str) -> str:
    if not _CUSTOM_FIELD.match(value):
        raise ValueError("expected the API name of a custom field such as OpenCX_Session_Id__c")
    return value


# The shortest retention_days that loses nothing Salesforce can still send:
#  * a delivered reply's record lives 90 days (replies/ledger.py DELIVERED_TTL):
#    a rep's edit of a reply within them must not deliver it again, and a Case
#    purged sooner would lose its cursor while its replies' records still stand;
#  * a deleted or merged Case stays in the Recycle Bin, where queryAll sees it
#    and undelete restores it, for 15 days [src: apexcode
#    langCon_apex_dml_examples_undelete.htm, "placed in the Recycle Bin for 15
#    days"];
#  * Salesforce's own replication window is 30 days [src: api_rest
#    resources_getupdated.htm, "no more than 30 days previous"].
# The default, 180, doubles the longest of them: a rep reopening a Case within
# about half a year still reaches the conversation.
MIN_RETENTION_DAYS = 90.0


def check_retention_days(value: float) -> float:
    if 0 < value < MIN_RETENTION_DAYS:
        raise ValueError(
            f"must be 0 (keep for ever) or at least {MIN_RETENTION_DAYS:g} days: a "
            "delivered reply's record lives 90 days, and a closed Case's keys must "
            "outlive it"
        )
    return value
