"""The contact's access token for a live chat: a guest's, or a verified user's
through an identity JWT the plugin signs with its own key [MIAW.md §2].

The token and its ``lastEventId`` are kept with the chat for the whole handoff:
a new guest token is a new end user who cannot see the conversation, so a
guest's token is never re-minted mid-chat. A verified user's expired token is
renewed by exchanging a fresh identity JWT for the same subject.
"""

from __future__ import annotations

from collections.abc import Awaitable
from dataclasses import dataclass

from opencx_salesforce.clock import Clock
from opencx_salesforce.live.client import ScrtClient
from opencx_salesforce.live.errors import LiveError
from opencx_salesforce.live.identity import IdentityKey, IdentitySigner
from opencx_salesforce.live.models import AccessToken
from opencx_salesforce.live.records import LiveChats
from opencx_salesforce.models import Session
from opencx_salesforce.settings.live import LiveSettings


def signer_for(settings: LiveSettings) -> IdentitySigner | None:
    """The plugin's identity signer, when a key is configured."""
    if settings.identity_private_key is None or not settings.identity_issuer:
        return None
    key = IdentityKey.from_pem(
        settings.identity_private_key.get_secret_value(), settings.identity_key_id
    )
    return IdentitySigner(key, settings.identity_issuer)


def subject_of(session: Session) -> str | None:
    """A stable id of the contact for a verified token: the contact key (email,
    then phone); None for an anonymous contact, who is a guest."""
    return session.contact.key()


@dataclass(frozen=True)
class TokenProof:
    """The last token request of this instance: it proves (or not) the SCRT URL,
    org id and deployment; shown on the settings page."""

    at: float
    ok: bool
    detail: str  # the kind of token, or the error


class LiveTokens:
    def __init__(
        self, scrt: ScrtClient, chats: LiveChats, signer: IdentitySigner | None, clock: Clock
    ) -> None:
        self.scrt = scrt
        self.chats = chats
        self.signer = signer
        self.clock = clock
        self.last_proof: TokenProof | None = None

    async def first(self, session: Session) -> AccessToken:
        """A verified token for a known contact when the plugin has a key; a
        guest token otherwise."""
        subject = subject_of(session)
        if self.signer is not None and subject:
            jwt = self.signer.sign(subject, now=self.clock.time())
            return await self._noted(self.scrt.verified_token(jwt, device_id=None))
        return await self._noted(self.scrt.guest_token())

    async def prove(self) -> AccessToken:
        """A token for no contact (``doctor``): a verified user's when the plugin
        signs identities, else a guest's."""
        if self.signer is not None:
            jwt = self.signer.sign("opencx-doctor", now=self.clock.time())
            return await self._noted(self.scrt.verified_token(jwt))
        return await self._noted(self.scrt.guest_token())

    async def _noted(self, request: Awaitable[AccessToken]) -> AccessToken:
        try:
            token = await request
        except LiveError as error:
            self.last_proof = TokenProof(self.clock.time(), False, str(error))
            raise
        kind = "verified user token" if token.verified else "guest token"
        self.last_proof = TokenProof(self.clock.time(), True, kind)
        return token

    async def renew(self, session_id: str) -> None:
        """A verified user's new token for the same subject, kept with the chat."""
        chat = await self.chats.get(session_id)
        if chat is None or self.signer is None or not chat.subject:
            return
        jwt = self.signer.sign(chat.subject, now=self.clock.time())
        token = await self._noted(self.scrt.verified_token(jwt))
        await self.chats.update(session_id, token=token.token, token_expires_at=token.expires_at)
