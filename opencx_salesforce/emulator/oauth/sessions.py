"""What the login host remembers between browser requests: an authorize request
waiting for the user, and the login host's own session (its cookie)."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlencode

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
