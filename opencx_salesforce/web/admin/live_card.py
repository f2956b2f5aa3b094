"""The settings page's Live Messaging card: the ``[salesforce.live]``
deployment, the last token request that proved it (or did not), and the live
chats open now. Nothing secret: no token, no key."""

from __future__ import annotations

from collections import Counter
from dataclasses import asdict, dataclass, field
from typing import Any

from opencx_salesforce.live.records import ACTIVE, STARTING, WAITING, LiveChat
from opencx_salesforce.live.tokens import TokenProof
from opencx_salesforce.runtime import ROUTE_PREFIX, Runtime

# Failing endings listed (the count is whole).
FAILING_SHOWN = 20


@dataclass(frozen=True)
class FailingEnding:
    session_id: str
    conversation_id: str
    state: str
    failures: int  # in a row
    next_try_at: float  # wall time
    error: str

    @classmethod
    def of(cls, chat: LiveChat) -> FailingEnding:
        return cls(
            chat.session_id,
            chat.conversation_id,
            chat.state,
            chat.end_failures,
            chat.end_retry_at,
            chat.end_error,
        )


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
    # Endings (the rep's end, the contact leaving, the fallback) whose steps
    # keep failing: tried again less and less often (live/end_retry.py), the
    # contact's words and the session's resolution held meanwhile.
    failing_endings: list[FailingEnding] = field(default_factory=list)

    @property
    def open_chats(self) -> int:
        return self.starting + self.waiting + self.active

    def to_json(self) -> dict[str, Any]:
        """For ``status.json``: the card's facts."""
        facts = asdict(self)
        facts["failing_endings"] = facts["failing_endings"][:FAILING_SHOWN]
        return {**facts, "open_chats": self.open_chats, "endings_failing": self.endings_failing}

    @property
    def endings_failing(self) -> int:
        return len(self.failing_endings)


async def live_card(services: Runtime) -> LiveCard:
    live = services.live
    settings = services.settings.live
    if live is None:
        return LiveCard(configured=False)
    # Every chat kept; ended chats expire from the store (records.py).
    states: Counter[str] = Counter()
    failing: list[FailingEnding] = []
    for chat in await live.chats.all():
        states[chat.state] += 1
        if chat.ending and chat.end_failures:
            failing.append(FailingEnding.of(chat))
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
        failing_endings=sorted(failing, key=lambda f: f.next_try_at),
    )
