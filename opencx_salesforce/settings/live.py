"""The ``[salesforce.live]`` sub-table: the Messaging for In-App and Web deployment
that live handoffs go to, and which channels go there.

Facts and sources: /work/shared/MIAW.md (SCRT URL §1, org id and deployment API
name §2, routing attributes §5).
"""

from __future__ import annotations

import re

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator

from opencx_salesforce.models import Channel
from opencx_salesforce.settings.loader import check_service_url, did_you_mean

# esDeveloperName: "letters, digits, underscores, starts with a letter" [MIAW.md §2]
_API_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_]*$")
# "The 15-character org ID" [MIAW.md §2]; 18-character ids are cut to 15.
_ORG_ID = re.compile(r"^00D[A-Za-z0-9]{12}(?:[A-Za-z0-9]{3})?$")

DEFAULT_ACKNOWLEDGEMENT = (
    "No one from our team could take this chat right now. Your conversation is saved "
    "as a support case, and a person will reply here as soon as they can."
)
# Said instead, while the acknowledgement is the default, when an agent had
# taken the chat and it could not go on (its token refused): "no one could take
# it" would be untrue.
DEFAULT_INTERRUPTED = (
    "This chat could not go on. Your conversation is saved as a support case, and a "
    "person will reply here as soon as they can."
)


class LiveSettings(BaseModel):
    """Live Messaging: chat handoffs to a rep in the Salesforce console."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    scrt_url: str | None = Field(
        default=None,
        description=(
            "The SCRT URL of the Custom Client deployment's code snippet, e.g. "
            "https://acme.my.salesforce-scrt.com. Unset: no live handoffs."
        ),
    )
    org_id: str | None = Field(
        default=None,
        description="The org's Id (Setup → Company Information); 18 characters are cut to 15.",
    )
    deployment: str | None = Field(
        default=None,
        description=(
            "API name (esDeveloperName) of the Embedded Service deployment of type Custom Client."
        ),
    )
    channels: list[str] = Field(
        default_factory=list,
        description=(
            "Channels whose handoffs go to a live agent, e.g. chat, sms, whatsapp. "
            "The others become Cases. An extension hook (salesforce_live_path) may "
            "decide otherwise for one session."
        ),
    )
    fallback: str = Field(
        default="case",
        description=(
            "Where a live handoff goes when no agent can take it (routing failure, no "
            "agent within queue_timeout_seconds, the chat's token refused): 'case' "
            "(the Case made at handoff carries on; the contact is told) or 'resolve' "
            "(the contact is told and the session is resolved)."
        ),
    )
    queue_timeout_seconds: float = Field(
        default=300.0,
        gt=0,
        description="How long a live handoff waits in the queue for an agent before the fallback.",
    )
    acknowledgement: str = Field(
        default=DEFAULT_ACKNOWLEDGEMENT,
        description=(
            "What the contact is told when the fallback is taken (a "
            "salesforce_live_acknowledgement hook may say it in their language)."
        ),
    )
    team_name: str = Field(
        default="Support team",
        description="The author shown on the plugin's own messages to the contact.",
    )
    identity_private_key: SecretStr | None = Field(
        default=None,
        description=(
            "PEM RSA private key (≥ 2048 bits) that signs identity JWTs for verified "
            "users; its public key is served at {prefix}/live/jwks.json. Unset: guests."
        ),
    )
    identity_key_id: str = Field(
        default="opencx-live-1",
        description="The kid of the identity key, as in the keyset.",
    )
    identity_issuer: str | None = Field(
        default=None,
        description="The keyset's JSON web key issuer (the iss claim); required with the key.",
    )
    stream_lease_seconds: float = Field(
        default=30.0,
        gt=0,
        description=(
            "How long one host instance holds a conversation's event stream without "
            "renewing it; another instance takes it over after this."
        ),
    )
    case_wait_seconds: float = Field(
        default=60.0,
        gt=0,
        description=(
            "How long a live handoff waits for its Case (made first, with the "
            "transcript) before it goes to the agent without the Case Id."
        ),
    )

    @property
    def configured(self) -> bool:
        return bool(self.scrt_url and self.org_id and self.deployment)

    @field_validator("scrt_url")
    @classmethod
    def _check_scrt_url(cls, value: str | None) -> str | None:
        if value is None or not value.strip():
            return None
        return check_service_url(value, example="https://acme.my.salesforce-scrt.com")

    @field_validator("org_id")
    @classmethod
    def _check_org_id(cls, value: str | None) -> str | None:
        if value is None or not value.strip():
            return None
        if not _ORG_ID.match(value.strip()):
            raise ValueError("expected a 15- or 18-character org Id starting with 00D")
        return value.strip()[:15]

    @field_validator("deployment")
    @classmethod
    def _check_deployment(cls, value: str | None) -> str | None:
        if value is None or not value.strip():
            return None
        if not _API_NAME.match(value.strip()):
            raise ValueError(
                "expected an API name: letters, digits and underscores, starting with a letter"
            )
        return value.strip()

    @field_validator("channels")
    @classmethod
    def _check_channels(cls, value: list[str]) -> list[str]:
        known = [c.value for c in Channel]
        for channel in value:
            if channel not in known:
                raise ValueError(
                    f"unknown channel {channel!r}{did_you_mean(channel, known)}; "
                    f"expected channels among {', '.join(known)}"
                )
        return value

    @field_validator("fallback")
    @classmethod
    def _check_fallback(cls, value: str) -> str:
        if value not in ("case", "resolve"):
            raise ValueError("expected 'case' or 'resolve'")
        return value

    @model_validator(mode="after")
    def _check_together(self) -> LiveSettings:
        if self.channels and not self.configured:
            raise ValueError("channels go live only with scrt_url, org_id and deployment all set")
        if self.identity_private_key is not None and not self.identity_issuer:
            raise ValueError("identity_issuer is required with identity_private_key")
        return self
