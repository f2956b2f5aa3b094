"""The settings page's Live Messaging card: the ``[salesforce.live]``
deployment, the last token request that proved it (or did not), and the live
chats open now. Nothing secret: no token, no key."""

from __future__ import annotations

from collections import Counter
from dataclasses import asdict, dataclass, field
from typing import Any

from opencx_salesforce.live.records import ACTIVE, STARTING, WAITING
from opencx_salesforce.live.tokens import TokenProof
from opencx_salesforce.runtime import ROUTE_PREFIX, Runtime


@dataclass(frozen=True)
class LiveCard:
    configured: bool
    scrt_url: str = ""
    org_id: str = ""
    deployment: str = ""
    channels: list[str] = field(default_factory=list)
    jwks_url: str | None = None  # verified users: the keyset's endpoint URL
    starting: int = 0  # handed off, the conversation not made yet
    waiting: int = 0
    active: int = 0
    read_here: int = 0  # streams this instance reads
    proof: TokenProof | None = None

    @property
    def open_chats(self) -> int:
        return self.starting + self.waiting + self.active

    def to_json(self) -> dict[str, Any]:
        """For ``status.json``: the card's facts."""
        return {**asdict(self), "open_chats": self.open_chats}


async def live_card(services: Runtime) -> LiveCard:
    live = services.live
    settings = services.settings.live
    if live is None:
        return LiveCard(configured=False)
    # One store read per chat kept; ended chats expire from the store (records.py).
    states: Counter[str] = Counter()
    for session_id in await live.chats.session_ids():
        chat = await live.chats.get(session_id)
        if chat is not None:
            states[chat.state] += 1
    jwks = f"{services.host.public_url}{ROUTE_PREFIX}/live/jwks.json"
    return LiveCard(
        configured=True,
        scrt_url=settings.scrt_url or "",
        org_id=settings.org_id or "",
        deployment=settings.deployment or "",
        channels=list(settings.channels),
        jwks_url=jwks if live.signer is not None else None,
        starting=states[STARTING],
        waiting=states[WAITING],
        active=states[ACTIVE],
        read_here=len(live.keeper.held),
        proof=live.tokens.last_proof,
    )
