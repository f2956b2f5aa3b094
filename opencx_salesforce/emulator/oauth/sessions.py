"""What the login host remembers between browser requests: an authorize request
waiting for the user, and the login host's own session (its cookie)."""

from __future__ import annotations

from dataclasses import dataclass, field
from urllib.parse import parse_qs, urlencode, urlsplit

from opencx_salesforce.emulator.oauth.paths import APPROVAL_PATH
from opencx_salesforce.emulator.oauth.realms import Realm

# An authorize request left half-way (login page never submitted) is forgotten.
PENDING_LIFETIME = 30 * 60.0


@dataclass
class PendingAuthorization:
    """An authorize request waiting for the user (login, account choice, approval)."""

    request_id: str
    realm: Realm
    client_id: str
    org_id: str
    redirect_uri: str
    state: str | None
    scopes: tuple[str, ...]
    code_challenge: str | None
    prompts: frozenset[str]
    immediate: bool
    login_hint: str
    display: str
    created_at: float
    # prompt=login / prompt=select_account are satisfied once, inside this request.
    logged_in_here: bool = False
    account_chosen: bool = False
    consented: bool = False

    @property
    def start_url(self) -> str:
        return f"{APPROVAL_PATH}?{urlencode({'source': self.request_id})}"


@dataclass
class LoginSession:
    """The login host's own session (its cookie), not an API session."""

    session_id: str
    realm: Realm
    org_id: str
    user_id: str
    expires_at: float


@dataclass
class LoginHostMemory:
    """The pending requests and login sessions, shared by the authorize flow and
    the login form. ``now`` is the emulator's clock."""

    pending: dict[str, PendingAuthorization] = field(default_factory=dict)
    sessions: dict[str, LoginSession] = field(default_factory=dict)

    def session(
        self, realm: Realm, session_id: str | None, org_id: str | None, now: float
    ) -> LoginSession | None:
        session = self.sessions.get(session_id) if session_id else None
        if session is None or session.realm is not realm:
            return None
        if now >= session.expires_at:
            self.sessions.pop(session.session_id, None)
            return None
        if org_id is not None and session.org_id != org_id:
            return None
        return session

    def pending_for(self, realm: Realm, start_url: str, now: float) -> PendingAuthorization | None:
        """The request a login page's ``startURL`` (the approval page) belongs to."""
        parts = urlsplit(start_url)
        if parts.path != APPROVAL_PATH:
            return None
        source = parse_qs(parts.query).get("source", [""])[0]
        return self.pending_by_id(realm, source, now)

    def pending_by_id(
        self, realm: Realm, request_id: str, now: float
    ) -> PendingAuthorization | None:
        pending = self.pending.get(request_id)
        if pending is None or pending.realm is not realm:
            return None
        if now >= pending.created_at + PENDING_LIFETIME:
            self.pending.pop(request_id, None)
            return None
        return pending

    def forget_stale(self, now: float) -> None:
        stale = [rid for rid, p in self.pending.items() if now >= p.created_at + PENDING_LIFETIME]
        for rid in stale:
            del self.pending[rid]
