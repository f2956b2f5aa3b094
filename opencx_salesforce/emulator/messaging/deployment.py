"""Embedded Service deployments an org has for Messaging for In-App and Web.

A client names a deployment by its API name (``esDeveloperName``). Only a deployment
of type Custom Client can be used through the API; its configuration reports it as
``deploymentType: "api"``. [src: MIAW.md §2, API reference
https://developer.salesforce.com/docs/service/messaging-api/references/miaw-api-reference]
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass, field

# deploymentType values: "api" is the Custom Client [ref]; "web" and "inapp" name
# the Salesforce-built web and mobile clients (UNCONFIRMED spellings).
CUSTOM_CLIENT = "api"
DEPLOYMENT_TYPES = (CUSTOM_CLIENT, "web", "inapp")

# "letters, digits, underscores, starts with a letter" [src: MIAW.md §2, ref]
API_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_]*$")

DEFAULT_DEPLOYMENT = "OpenCX_Live_Chat"
DEFAULT_QUEUE = "Chat Support"


@dataclass
class Deployment:
    """One Messaging for In-App and Web deployment, with its channel's settings."""

    api_name: str
    deployment_type: str = CUSTOM_CLIENT
    # "A UUID that identifies a deployed messaging channel" [src: Help
    # service.livemessage_modify_channel_settings.htm]
    channel_address_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    # Omni-Channel routing: the queue the channel's flow sends new sessions to.
    queue_name: str = DEFAULT_QUEUE
    # User verification (Setup → User Verification): the keyset's JWKS endpoint URL
    # and its "JSON web key issuer". None: verification off, guests allowed.
    # [src: MIAW.md §8.5; Help service.miaw_token_based_user_verification_setup.htm]
    jwks_url: str | None = None
    issuer: str | None = None
    keyset_name: str = "OpenCX_Keys"
    # Guests need user verification off (UNCONFIRMED, MIAW.md §2); the emulator
    # lets a test turn guests on beside verification.
    allow_guests: bool = True
    # "Authorization Token Expiration Time for Verified Users" [src: MIAW.md §2, uv];
    # the unit of verifiedUserJwtExpirationTime is UNCONFIRMED: seconds here.
    verified_token_seconds: float = 6 * 3600.0
    # Guest token lifetime is undocumented (UNCONFIRMED, MIAW.md §2).
    guest_token_seconds: float = 6 * 3600.0
    # Public clients report a failed verification answering 200 with a guest token
    # (MIAW.md §2, UNCONFIRMED); off: the emulator answers 401.
    silent_guest_fallback: bool = False

    def as_dict(self) -> dict[str, object]:
        return {
            "apiName": self.api_name,
            "deploymentType": self.deployment_type,
            "channelAddressIdentifier": self.channel_address_id,
            "queue": self.queue_name,
            "jwksUrl": self.jwks_url,
            "issuer": self.issuer,
            "keysetName": self.keyset_name,
            "allowGuests": self.allow_guests,
            "verifiedTokenSeconds": self.verified_token_seconds,
            "guestTokenSeconds": self.guest_token_seconds,
            "silentGuestFallback": self.silent_guest_fallback,
        }


def default_deployment() -> Deployment:
    """The deployment every emulated org starts with: a Custom Client for guests,
    which a test or the demo can point at a JWKS for verified users."""
    return Deployment(api_name=DEFAULT_DEPLOYMENT)
