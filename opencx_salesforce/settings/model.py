"""The plugin's settings: the ``[salesforce]`` table of the host's TOML, overridden
by ``OPENCX_SALESFORCE_*`` environment variables.

:func:`load_settings` is what the plugin calls at startup; the loader
(:mod:`.loader`) turns every mistake into one
:class:`~opencx_salesforce.errors.ConfigError` naming the key as the user wrote it.

Tests construct :class:`SalesforceSettings` directly
(``SalesforceSettings(login_url=emulator_url, dev_mode=True)``).

The field validators only call the checks in :mod:`.checks` (single values) and
:mod:`.picklists` (Case picklist defaults and values).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_core import PydanticCustomError
from pydantic_settings import SettingsConfigDict

from opencx_salesforce.cases.field_mapping import parse_mapping
from opencx_salesforce.settings import checks, picklists
from opencx_salesforce.settings.live import LiveSettings
from opencx_salesforce.settings.loader import LoadableSettings, load_section

SECTION = "salesforce"
ENV_PREFIX = "OPENCX_SALESFORCE_"


def _secret_text(value: SecretStr | None) -> str | None:
    return value.get_secret_value() if value is not None else None


class SalesforceSettings(LoadableSettings):
    """Settings of the Salesforce plugin: the ``[salesforce]`` table of the host's
    TOML, overridden by ``OPENCX_SALESFORCE_<KEY>`` environment variables."""

    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, extra="forbid", frozen=True)

    login_url: str = Field(
        default="https://login.salesforce.com",
        description=(
            "Where OAuth starts: https://login.salesforce.com for production, "
            "https://test.salesforce.com for sandboxes, or the org's My Domain URL "
            "(https://acme.my.salesforce.com). Plain http only to 127.0.0.1/localhost "
            "(the local emulator)."
        ),
    )
    client_id: str | None = Field(
        default=None,
        description=(
            "Consumer Key of the Connected App / External Client App. Optional here: "
            "the admin may paste it on the settings page instead."
        ),
    )
    client_secret: SecretStr | None = Field(
        default=None,
        description="Consumer Secret of the app. Optional here, like client_id.",
    )
    scopes: str = Field(
        default="full refresh_token offline_access",
        description=(
            "OAuth scopes requested at Connect, space-separated. Must include "
            "refresh_token (or its synonym offline_access): the plugin works in the "
            "background, long after the admin's browser session."
        ),
    )
    api_version: str = Field(
        default="62.0",
        description="Salesforce REST API version used in /services/data/vNN.N/ URLs.",
    )
    encryption_key: SecretStr | None = Field(
        default=None,
        description=(
            "Fernet key that encrypts the client secret and OAuth tokens in the store. "
            "Required unless dev_mode is on. " + checks.FERNET_HOWTO
        ),
    )
    dev_mode: bool = Field(
        default=False,
        description=(
            "Local trials only: secrets are stored with a built-in throwaway key when "
            "encryption_key is unset."
        ),
    )
    webhook_signing: bool = Field(
        default=True,
        description=(
            "Webhook calls must carry X-OpenCX-Signature: v1=<HMAC-SHA256> over "
            "'timestamp.body', and a signature is accepted once (replay cache). The "
            "secret is webhook_signing_secret, or else one generated per install and kept "
            "in the store; the generated package carries it. false (not recommended): "
            "unsigned calls, the URL's token alone admits them and a captured call can be "
            "replayed."
        ),
    )
    webhook_signing_secret: SecretStr | None = Field(
        default=None,
        description=(
            "The webhook signing secret, when you want to choose it (at least 16 "
            "characters); unset, the install generates one (see webhook_signing)."
        ),
    )
    case_from_value: str = Field(
        default="opencx",
        description=(
            "Value written to Case_From__c on Cases the plugin creates; the Apex triggers "
            "only notify for Cases carrying it."
        ),
    )
    session_id_field: str = Field(
        default="OpenCX_Session_Id__c",
        description=(
            "External-id custom field on Case holding the session id, so a retried "
            "create upserts instead of making a second Case."
        ),
    )
    publish_transcript: bool = Field(
        default=False,
        description=(
            "Publish the transcript Case comments (IsPublished), making them visible to "
            "the contact in a customer portal. Off: internal comments."
        ),
    )
    create_contacts: bool = Field(
        default=False,
        description="Create a Contact for the person when no existing Contact matches.",
    )
    match_contacts: bool = Field(
        default=True,
        description=(
            "Look up an existing Contact by the person's email (then phone) and link it "
            "to the Case."
        ),
    )
    after_closure: Literal["follow_up", "back_to_bot"] = Field(
        default="follow_up",
        description=(
            "Where a contact's message written after the rep closed the Case goes: "
            "follow_up opens a new Case linked to the closed one (ParentId) carrying it; "
            "back_to_bot hands the session back to the bot with the message unanswered "
            "(a host without hand_back_to_bot gets follow_up). Either way the session is "
            "never resolved over an unread message."
        ),
    )
    origin_by_channel: dict[str, str] = Field(
        default_factory=lambda: dict(picklists.DEFAULT_ORIGIN_BY_CHANNEL),
        description=(
            "Case Origin picklist value per channel (email, phone, chat, web, sms, "
            "whatsapp). Channels you leave out keep their default."
        ),
    )
    priority_map: dict[str, str] = Field(
        default_factory=lambda: dict(picklists.DEFAULT_PRIORITY_MAP),
        description=(
            "Case Priority picklist value per session priority (case-insensitive). "
            "Priorities you leave out keep their default; unknown ones leave Priority "
            "to the org's default."
        ),
    )
    token_refresh_after_seconds: float = Field(
        default=6300.0,
        ge=0,
        description=(
            "Renew the access token before use once it is this old (0: only after "
            "Salesforce refuses it). Salesforce sends no expiry; keep this under the "
            "org's session timeout (two hours by default)."
        ),
    )
    sweep_interval_seconds: float = Field(
        default=60.0,
        ge=5,
        description=(
            "How often the reconciliation sweep reads what changed on the plugin's open "
            "Cases, catching replies and closures whose webhook was lost, while a "
            "conversation is in progress (activity in the last sweep_hot_seconds) or "
            "the webhooks are not known to be healthy (after a start, after a sweep "
            "that found something a webhook had missed, after a refused webhook call). "
            "A reply whose webhook was lost then arrives within this interval. One API "
            "call per sweep when nothing was missed. No call at all while the plugin "
            "has no open Case."
        ),
    )
    sweep_hot_seconds: float = Field(
        default=600.0,
        ge=0,
        description=(
            "How long after activity on the plugin's Cases (a handoff, the contact "
            "writing to an open Case, a webhook, a reply delivered) the sweep stays "
            "at sweep_interval_seconds. A conversation in progress is where replies "
            "come; each spell costs about sweep_hot_seconds / sweep_interval_seconds "
            "calls (10 at the defaults), whatever the number of Cases in it."
        ),
    )
    sweep_healthy_interval_seconds: float = Field(
        default=300.0,
        ge=5,
        description=(
            "How often the sweep runs with open Cases, healthy webhooks (the last "
            "sweep found nothing they had missed) and no activity in the last "
            "sweep_hot_seconds: one call per sweep, 288 calls a day at 300 s. A reply "
            "whose webhook alone was lost on such a quiet Case arrives within this "
            "interval; the sweep goes back to sweep_interval_seconds as soon as a loss "
            "is seen or anything happens."
        ),
    )
    reply_read_min_interval_seconds: float = Field(
        default=0.0,
        ge=0,
        description=(
            "Every webhook for a Case is read at once, except that webhooks arriving "
            "while a read of that Case is in flight share one next read, which starts "
            "when that read ends (a burst costs at most two reads). Set this to make "
            "that next read wait until this long after the last one began: at most "
            "one read per Case per interval, whatever a stream of webhooks with "
            "nothing new (duplicates, retries) would cost, at the price of that much "
            "delay for a reply that follows another within the interval."
        ),
    )
    outbox_concurrency: int = Field(
        default=64,
        ge=1,
        le=1000,
        description=(
            "Outbox: how many jobs the plugin works on at once. Handoffs that are ready "
            "while one is being sent wait for it and then go together in one composite "
            "graph request, so more workers means bigger batches and more handoffs per "
            "second, not more requests in flight (bench/RESULTS.md). 256 handles more "
            "handoffs a second than 64 on the memory store under load; on SQLite, the "
            "default store, it does not and costs CPU (bench/profile_notes.md). "
            "Salesforce only limits concurrent requests that run longer than 20 seconds."
        ),
    )
    dead_letter_after_seconds: float = Field(
        default=86400.0,
        gt=0,
        description="Outbox: give up on a job (dead letter) once it has failed this long.",
    )
    backoff_base_seconds: float = Field(
        default=1.0,
        gt=0,
        description="Outbox: first retry delay; doubles on each failure (with jitter).",
    )
    backoff_cap_seconds: float = Field(
        default=300.0,
        gt=0,
        description="Outbox: longest delay between two retries.",
    )
    webhook_max_body_bytes: int = Field(
        default=65536,
        ge=1024,
        le=10 * 1024 * 1024,
        description="Webhook bodies larger than this are refused with 413.",
    )
    webhook_body_timeout_seconds: float = Field(
        default=10.0,
        gt=0,
        le=300,
        description=(
            "Webhook calls whose body has not fully arrived this many seconds after the "
            "headers are refused with 408, so half-sent requests cannot hold connections."
        ),
    )
    webhook_timestamp_tolerance_seconds: float = Field(
        default=300.0,
        gt=0,
        description=(
            "Webhook calls whose X-OpenCX-Timestamp is further than this from now are "
            "refused with 401 (replay window)."
        ),
    )

    case_fields: dict[str, str] = Field(
        default_factory=dict,
        description=(
            "Case fields from the session, without a plugin: field API name = template, "
            'e.g. Plan__c = "{metadata.plan}". Placeholders: metadata.<key>, '
            "session_id, channel, language, priority, topic, contact.name, "
            "contact.email, contact.phone. A field whose placeholder has no value is "
            "left out; extension hooks setting the same field win. Checked against "
            "the org's describe before each handoff."
        ),
    )
    metrics_listen: str | None = Field(
        default=None,
        description=(
            "Also serve /metrics, without the admin check, on a listener of its own at "
            "this host:port (e.g. 127.0.0.1:9464): bind it where only the scraper "
            "reaches. Unset: /metrics is only under the plugin's prefix, for admins."
        ),
    )
    health_outbox_stuck_seconds: float = Field(
        default=300.0,
        gt=0,
        description=(
            "Readiness fails when an outbox job has been ready to run for longer than "
            "this without a worker taking it (the workers are stuck)."
        ),
    )
    live: LiveSettings = Field(
        default_factory=LiveSettings,
        description=(
            "Live Messaging: chat, SMS and WhatsApp handoffs to a rep in the Salesforce console."
        ),
    )

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
