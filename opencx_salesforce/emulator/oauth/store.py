"""What the authorization server has issued: authorization codes, grants (a
user's authorization of an app, carried by its refresh token) and access tokens
(sessions), plus the counters tests read.

Access tokens issued from a grant remember it, so revoking the refresh token ends
them too. [src: mobile-sdk oauth-revoking-tokens.html "If a refresh token is
included, the server revokes it and any associated access tokens"]
"""

from __future__ import annotations

import itertools
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass

from opencx_salesforce.emulator.oauth.tokens import (
    new_access_token,
    new_authorization_code,
    new_refresh_token,
)

# Authorization codes are single-use and short-lived; Salesforce does not publish
# their lifetime (third parties report anything from 2 to 15 minutes), so the
# emulator takes 15 minutes. [src: SALESFORCE.md §10 "Authorization code lifetime:
# NOT found in official docs" — UNCONFIRMED]
CODE_LIFETIME = 15 * 60.0

# Five approvals per user per app; "once a sixth approval is created, the oldest
# approval is revoked". [src: help.salesforce.com "Manage OAuth Access for Your
# Connected Apps", as quoted by docs.oracle.com sforce-adapter
# error-when-connected-app-attempts-access-your-salesforce-data.html; useparagon.com
# "Salesforce allows only 5 access grants for a Connected App per user"]
MAX_GRANTS_PER_USER_AND_APP = 5


@dataclass
class AuthorizationCode:
    code: str
    org_id: str
    user_id: str
    client_id: str
    redirect_uri: str
    scopes: tuple[str, ...]
    code_challenge: str | None
    issued_at: float
    used: bool = False

    def expired(self, now: float) -> bool:
        return now >= self.issued_at + CODE_LIFETIME


@dataclass
class Grant:
    """One authorization of an app by a user, carried by a refresh token that
    rotation may replace. Refresh tokens do not expire by themselves (the default
    refresh token policy is "valid until revoked")."""

    number: int
    org_id: str
    user_id: str
    client_id: str
    scopes: tuple[str, ...]
    refresh_token: str
    created_at: float
    revoked: bool = False


@dataclass
class AccessToken:
    """A session. Its timeout counts inactivity: each use starts it again, for
    every grant alike (client credentials too). [src: api
    sforce_api_concepts_errorhandling.htm (256.0) "Sessions expire automatically
    after a predetermined length of inactivity ... If you make an API call, the
    inactivity timer is reset to zero"; api_meta meta_profilesessionsetting.htm
    sessionTimeout "how many minutes of inactivity elapse before a user's
    authenticated session times out"]"""

    token: str
    org_id: str
    user_id: str
    client_id: str
    scopes: tuple[str, ...]
    issued_at: float
    expires_at: float
    timeout: float = 7200.0  # seconds of inactivity it lasts (the org's session timeout)
    grant: int | None = None
    revoked: bool = False

    def valid(self, now: float) -> bool:
        return not self.revoked and now < self.expires_at

    def used(self, now: float) -> None:
        """A call made with it: the inactivity timer starts again."""
        self.expires_at = now + self.timeout


class TokenStore:
    def __init__(self) -> None:
        self.codes: dict[str, AuthorizationCode] = {}
        self.access: dict[str, AccessToken] = {}
        self.grants: dict[int, Grant] = {}
        self._by_refresh: dict[str, Grant] = {}
        self._numbers = itertools.count(1)

    # --- codes ----------------------------------------------------------------------

    def issue_code(
        self,
        *,
        org_id: str,
        user_id: str,
        client_id: str,
        redirect_uri: str,
        scopes: tuple[str, ...],
        code_challenge: str | None,
        now: float,
    ) -> AuthorizationCode:
        self._forget_old_codes(now)
        code = AuthorizationCode(
            code=new_authorization_code(),
            org_id=org_id,
            user_id=user_id,
            client_id=client_id,
            redirect_uri=redirect_uri,
            scopes=scopes,
            code_challenge=code_challenge,
            issued_at=now,
        )
        self.codes[code.code] = code
        return code

    def _forget_old_codes(self, now: float) -> None:
        # Keep used and expired codes a while so a replay still reads "expired
        # authorization code" rather than "invalid"; then let them go.
        stale = [c for c, code in self.codes.items() if now > code.issued_at + 4 * CODE_LIFETIME]
        for c in stale:
            del self.codes[c]

    # --- grants and refresh tokens --------------------------------------------------

    def open_grant(
        self, *, org_id: str, user_id: str, client_id: str, scopes: tuple[str, ...], now: float
    ) -> Grant:
        grant = Grant(
            number=next(self._numbers),
            org_id=org_id,
            user_id=user_id,
            client_id=client_id,
            scopes=scopes,
            refresh_token=new_refresh_token(),
            created_at=now,
        )
        self.grants[grant.number] = grant
        self._by_refresh[grant.refresh_token] = grant
        live = [
            g
            for g in self.grants.values()
            if not g.revoked and g.user_id == user_id and g.client_id == client_id
        ]
        for oldest in sorted(live, key=lambda g: g.number)[:-MAX_GRANTS_PER_USER_AND_APP]:
            self.revoke_grant(oldest)
        return grant

    def grant_for_refresh_token(self, refresh_token: str) -> Grant | None:
        grant = self._by_refresh.get(refresh_token)
        return None if grant is None or grant.revoked else grant

    def rotate(self, grant: Grant) -> str:
        """Refresh token rotation: a new refresh token, the old one stops working.
        [src: help.salesforce.com remoteaccess_oauth_refresh_token_flow.htm]"""
        del self._by_refresh[grant.refresh_token]
        grant.refresh_token = new_refresh_token()
        self._by_refresh[grant.refresh_token] = grant
        return grant.refresh_token

    def revoke_grant(self, grant: Grant) -> None:
        grant.revoked = True
        self._by_refresh.pop(grant.refresh_token, None)
        for token in self.access.values():
            if token.grant == grant.number:
                token.revoked = True

    # --- access tokens --------------------------------------------------------------

    def issue_access(
        self,
        *,
        org_id: str,
        user_id: str,
        client_id: str,
        scopes: tuple[str, ...],
        now: float,
        lifetime: float,
        grant: Grant | None,
    ) -> AccessToken:
        token = AccessToken(
            token=new_access_token(org_id),
            org_id=org_id,
            user_id=user_id,
            client_id=client_id,
            scopes=scopes,
            issued_at=now,
            expires_at=now + lifetime,
            timeout=lifetime,
            grant=grant.number if grant else None,
        )
        self.access[token.token] = token
        return token

    # --- whole-org operations -------------------------------------------------------

    def in_org(self, org_id: str) -> Iterator[AccessToken]:
        return (t for t in self.access.values() if t.org_id == org_id)

    def revoke_org(self, org_id: str) -> None:
        for grant in list(self.grants.values()):
            if grant.org_id == org_id and not grant.revoked:
                self.revoke_grant(grant)
        for token in self.in_org(org_id):
            token.revoked = True
        for code in self.codes.values():
            if code.org_id == org_id:
                code.used = True


class TokenCounters:
    """Token-endpoint traffic per (client_id, grant_type): every request that
    reached the endpoint, and the ones that were answered with a token. Tests read
    these to prove, say, that two hundred concurrent callers caused one refresh."""

    def __init__(self) -> None:
        self.requests: Counter[tuple[str, str]] = Counter()
        self.issued: Counter[tuple[str, str]] = Counter()

    def record_request(self, client_id: str, grant_type: str) -> None:
        self.requests[(client_id, grant_type)] += 1

    def record_issued(self, client_id: str, grant_type: str) -> None:
        self.issued[(client_id, grant_type)] += 1

    def count_requests(self, client_id: str | None = None, grant_type: str | None = None) -> int:
        return _total(self.requests, client_id, grant_type)

    def count_issued(self, client_id: str | None = None, grant_type: str | None = None) -> int:
        return _total(self.issued, client_id, grant_type)

    def reset(self) -> None:
        self.requests.clear()
        self.issued.clear()


def _total(counter: Counter[tuple[str, str]], client_id: str | None, grant_type: str | None) -> int:
    return sum(
        n
        for (client, grant), n in counter.items()
        if (client_id is None or client == client_id)
        and (grant_type is None or grant == grant_type)
    )
