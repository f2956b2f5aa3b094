"""The plugin's settings: the ``[salesforce]`` table of the host's TOML, overridden
by ``OPENCX_SALESFORCE_*`` environment variables.

:func:`load_settings` is what the plugin calls at startup; the loader
(:mod:`.loader`) turns every mistake into one
:class:`~opencx_salesforce.errors.ConfigError` naming the key as the user wrote it.

Tests construct :class:`SalesforceSettings` directly
(``SalesforceSettings(login_url=emulator_url, dev_mode=True)``).

The fields, their defaults and descriptions are declared in :mod:`.fields`; here
they are checked. The field validators only call the checks in :mod:`.checks`
(single values) and :mod:`.picklists` (Case picklist defaults and values).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import SecretStr, field_validator, model_validator
from pydantic_core import PydanticCustomError
from pydantic_settings import SettingsConfigDict

from opencx_salesforce.cases.field_mapping import parse_mapping
from opencx_salesforce.settings import checks, picklists
from opencx_salesforce.settings.fields import SalesforceFields
from opencx_salesforce.settings.loader import load_section

SECTION = "salesforce"
ENV_PREFIX = "OPENCX_SALESFORCE_"


def _secret_text(value: SecretStr | None) -> str | None:
    return value.get_secret_value() if value is not None else None


class SalesforceSettings(SalesforceFields):
    """Settings of the Salesforce plugin: the ``[salesforce]`` table of the host's
    TOML, overridden by ``OPENCX_SALESFORCE_<KEY>`` environment variables."""

    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, extra="forbid", frozen=True)

    @field_validator("login_url")
    @classmethod
    def _check_login_url(cls, value: str) -> str:
        return checks.check_login_url(value)

    @field_validator(
        "client_id",
        "client_secret",
        "encryption_key",
        "webhook_signing_secret",
        "metrics_listen",
        mode="before",
    )
    @classmethod
    def _blank_is_unset(cls, value: Any) -> Any:
        return checks.none_if_blank(value)

    @field_validator("case_fields")
    @classmethod
    def _check_case_fields(cls, value: dict[str, str]) -> dict[str, str]:
        parse_mapping(value)  # ValueError names each bad entry
        return value

    @field_validator("retention_days")
    @classmethod
    def _check_retention_days(cls, value: float) -> float:
        return checks.check_retention_days(value)

    @field_validator("metrics_listen")
    @classmethod
    def _check_metrics_listen(cls, value: str | None) -> str | None:
        return checks.check_listen_address(value)

    @field_validator("scopes", mode="before")
    @classmethod
    def _scopes_from_list(cls, value: Any) -> Any:
        return checks.scopes_from_list(value)

    @field_validator("scopes")
    @classmethod
    def _check_scopes(cls, value: str) -> str:
        return checks.check_scopes(value)

    @field_validator("api_version", mode="before")
    @classmethod
    def _api_version_text(cls, value: Any) -> Any:
        return checks.api_version_text(value)

    @field_validator("api_version")
    @classmethod
    def _check_api_version(cls, value: str) -> str:
        return checks.check_api_version(value)

    @field_validator("encryption_key")
    @classmethod
    def _check_encryption_key(cls, value: SecretStr | None) -> SecretStr | None:
        return checks.check_encryption_key(value)

    @field_validator("webhook_signing_secret")
    @classmethod
    def _check_signing_secret(cls, value: SecretStr | None) -> SecretStr | None:
        return checks.check_signing_secret(value)

    @field_validator("case_from_value")
    @classmethod
    def _check_case_from(cls, value: str) -> str:
        return picklists.check_picklist_value(value)

    @field_validator("session_id_field")
    @classmethod
    def _check_session_id_field(cls, value: str) -> str:
        return checks.check_custom_field_name(value)

    @field_validator("origin_by_channel")
    @classmethod
    def _merge_origins(cls, value: dict[str, str]) -> dict[str, str]:
        return picklists.merge_origins(value)

    @field_validator("priority_map")
    @classmethod
    def _merge_priorities(cls, value: dict[str, str]) -> dict[str, str]:
        return picklists.merge_priorities(value)

    @model_validator(mode="after")
    def _check_together(self) -> SalesforceSettings:
        if self.encryption_key is None and not self.dev_mode:
            raise PydanticCustomError(
                "encryption_key_required",
                "required outside dev mode: it encrypts the client secret and OAuth tokens "
                "in the store. Make" + checks.FERNET_HOWTO.removeprefix("make"),
                {"field": "encryption_key"},
            )
        if not self.webhook_signing and self.webhook_signing_secret is not None:
            raise PydanticCustomError(
                "signing_off_with_secret",
                "webhook_signing is false but a webhook_signing_secret is set: remove one",
                {"field": "webhook_signing"},
            )
        if self.backoff_cap_seconds < self.backoff_base_seconds:
            raise PydanticCustomError(
                "backoff_cap_too_small",
                "expected a value >= backoff_base_seconds ({base})",
                {"field": "backoff_cap_seconds", "base": self.backoff_base_seconds},
            )
        return self

    # Small readers, so callers never handle SecretStr themselves.
    def client_secret_value(self) -> str | None:
        return _secret_text(self.client_secret)

    def encryption_key_value(self) -> str | None:
        return _secret_text(self.encryption_key)

    def webhook_signing_secret_value(self) -> str | None:
        return _secret_text(self.webhook_signing_secret)


def load_settings(
    section: Mapping[str, Any], env: Mapping[str, str] | None = None
) -> SalesforceSettings:
    """The plugin's settings from its TOML ``section`` and ``env`` (default:
    ``os.environ``); environment variables win. Raises :class:`ConfigError`."""
    return load_section(SalesforceSettings, section, env, table=SECTION)
