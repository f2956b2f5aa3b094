"""The emulator's authorization server, without HTTP: who may sign in, what was
issued, and whether a bearer token still opens a session.

``routes.py`` puts it on the wire; the REST side calls :meth:`AuthServer.validate_bearer`
on every request; tests and the demo use the admin methods (``add_app``,
``set_callback_urls``, ``revoke_all``, ``expire_access_tokens``, ``counters``).
Time always comes from ``state.clock``, so tests move it instead of sleeping.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any, Concatenate, ParamSpec, TypeVar

from opencx_salesforce.emulator.oauth.authorize import AuthorizationFlow
from opencx_salesforce.emulator.oauth.directory import AppEntry, Directory, OrgEntry, UserEntry
from opencx_salesforce.emulator.oauth.errors import IdentityRefused, InvalidSession, RevokeRefused
from opencx_salesforce.emulator.oauth.identity import (
    api_version_for,
    identity_document,
    userinfo_document,
)
from opencx_salesforce.emulator.oauth.login import LoginForm
from opencx_salesforce.emulator.oauth.realms import Realm
from opencx_salesforce.emulator.oauth.scopes import API_SCOPES
from opencx_salesforce.emulator.oauth.sessions import LoginHostMemory
from opencx_salesforce.emulator.oauth.store import AccessToken, TokenCounters, TokenStore
from opencx_salesforce.emulator.oauth.token_endpoint import TokenEndpoint
from opencx_salesforce.emulator.seed import ConnectedAppSeed

if TYPE_CHECKING:
    from opencx_salesforce.emulator.state import EmulatorState, OrgIdentity

P = ParamSpec("P")
R = TypeVar("R")

# Bearer schemes the data API reads: "Authorization: Bearer <token>", and the older
# "Authorization: OAuth <token>". [src: api_rest quickstart_oauth.htm]
BEARER_SCHEMES = frozenset({"bearer", "oauth"})


def _locked(
    method: Callable[Concatenate[AuthServer, P], R],
) -> Callable[Concatenate[AuthServer, P], R]:
    """Tests may drive the admin methods from another thread than the emulator's
    event loop; one lock keeps each operation whole."""

    @functools.wraps(method)
    def wrapper(self: AuthServer, /, *args: P.args, **kwargs: P.kwargs) -> R:
        with self.lock:
            return method(self, *args, **kwargs)

    return wrapper


@dataclass(frozen=True)
class Principal:
    """Who a valid bearer token speaks for."""

    org_id: str
    user_id: str
    client_id: str
    scopes: tuple[str, ...]
    access_token: str
    issued_at: float  # clock seconds


class AuthServer:
    def __init__(self, state: EmulatorState) -> None:
        self._state = state
        self.lock = threading.RLock()
        self.directory = Directory()
        self.store = TokenStore()
        self.counters = TokenCounters()
        # (org_id, user_id, client_id) a user clicked Allow for; the approval page
        # is not shown again unless prompt=consent.
        self._approvals: set[tuple[str, str, str]] = set()
        self._registered_at: dict[str, float] = {}
        self.token_endpoint = TokenEndpoint(self)
        # The authorize flow and the login form share what the login host
        # remembers between browser requests.
        memory = LoginHostMemory()
        self.flow = AuthorizationFlow(self, memory)
        self.login_form = LoginForm(self, memory)

    # --- context --------------------------------------------------------------------

    def now(self) -> float:
        return self._state.clock.now()

    @property
    def base_url(self) -> str:
        return self._state.base_url

    @property
    def instance_url(self) -> str:
        """Every org's REST API answers at the emulator's address."""
        return self._state.base_url

    def realm_url(self, realm: Realm, path: str = "") -> str:
        return realm.url(self._state.base_url, path)

    def identity_url(self, org_id: str, user_id: str) -> str:
        """``{login host}/id/{orgId}/{userId}``, at the realm the org logs in at.
        [src: api_rest intro_understanding_web_server_oauth_flow.htm "id"]"""
        realm = self.directory.org(org_id).realm
        return self.realm_url(realm, f"/id/{org_id}/{user_id}")

    # --- registration and admin -----------------------------------------------------

    @_locked
    def register_org(self, identity: OrgIdentity) -> None:
        """Make an org's users and Connected Apps known. Each app's activation delay
        runs from now (the emulator's start, for seeded orgs)."""
        now = self.now()
        self.directory.add_org(identity, now)
        self._registered_at[identity.org_id] = now

    @_locked
    def add_app(self, org_id: str, app: ConnectedAppSeed) -> None:
        """A Connected App created while the emulator runs; it becomes usable once
        its ``activation_delay`` has passed."""
        self.directory.add_app(org_id, app, self.now())

    @_locked
    def set_callback_urls(self, client_id: str, urls: Iterable[str]) -> None:
        app = self.directory.app(client_id)
        app.callback_urls = tuple(urls)
        app.seed = replace(app.seed, callback_urls=app.callback_urls)

    @_locked
    def set_user_active(self, org_id: str, username: str, active: bool) -> None:
        """Deactivating a user ends their sessions at once; their refresh tokens
        are refused while they stay inactive."""
        self.directory.org(org_id).users[username].active = active

    @_locked
    def revoke_all(self, org_id: str) -> None:
        """Every refresh token, access token and unused code of the org stops working
        (what an admin's "Revoke" on each OAuth connection does)."""
        self.store.revoke_org(org_id)

    @_locked
    def expire_access_tokens(self, org_id: str) -> None:
        """Every access token of the org reaches its session timeout now (as if
        idle that long); refresh tokens keep working. Tests use it to force
        ``INVALID_SESSION_ID``."""
        now = self.now()
        for token in self.store.in_org(org_id):
            token.expires_at = min(token.expires_at, now)

    # --- approvals (shared by the flows) --------------------------------------------

    def has_approved(self, user: UserEntry, app: AppEntry) -> bool:
        return (user.org_id, user.user_id, app.client_id) in self._approvals

    def record_approval(self, user: UserEntry, app: AppEntry) -> None:
        self._approvals.add((user.org_id, user.user_id, app.client_id))

    def org_of(self, user: UserEntry) -> OrgEntry:
        return self.directory.org(user.org_id)

    # --- the data API's check -------------------------------------------------------

    @_locked
    def validate_bearer(self, authorization_header: str | None) -> Principal:
        """The principal of ``Authorization: Bearer <token>``, or :class:`InvalidSession`.

        No header at all reads as no session: ``INVALID_SESSION_ID`` (recorded when a
        client put the token in the URL instead of the header [src:
        forcedotcom/postman-salesforce-apis issue 40]); a header of another shape is
        ``INVALID_AUTH_HEADER`` / ``INVALID_HEADER_TYPE``; an unknown, revoked or
        timed-out token is ``INVALID_SESSION_ID`` "Session expired or invalid".
        [src: SALESFORCE.md §1; api_meta meta_error_handling_session_exp.htm]
        """
        token = _token_from_header(authorization_header)
        principal = self._principal(token)
        if principal is None:
            raise InvalidSession.expired()
        if not API_SCOPES & set(principal.scopes):
            raise InvalidSession.not_for_rest()
        return principal

    @_locked
    def principal_for_token(self, token: str) -> Principal | None:
        """The principal of a live access token, whatever its scopes."""
        return self._principal(token)

    def _principal(self, token: str) -> Principal | None:
        record = self._live_access_token(token)
        if record is None:
            return None
        return Principal(
            org_id=record.org_id,
            user_id=record.user_id,
            client_id=record.client_id,
            scopes=record.scopes,
            access_token=record.token,
            issued_at=record.issued_at,
        )

    def _live_access_token(self, token: str) -> AccessToken | None:
        """The token's session, if live; each look is a request made with it, so
        its inactivity timer starts again (AccessToken)."""
        now = self.now()
        record = self.store.access.get(token)
        if record is None or not record.valid(now):
            return None
        user = self.directory.user(record.org_id, record.user_id)
        if user is None or not user.active:
            return None
        record.used(now)
        return record

    # --- identity service -----------------------------------------------------------

    @_locked
    def userinfo(self, token: str | None, version: str | None = None) -> dict[str, Any]:
        record = self._identity_token(token)
        org = self.directory.org(record.org_id)
        user = self._user(record.org_id, record.user_id)
        return userinfo_document(
            identity_url=self.identity_url(org.org_id, user.user_id),
            instance_url=self.instance_url,
            org=org,
            user=user,
            version=api_version_for(version, org),
            modified_at=self._registered_at[org.org_id],
        )

    @_locked
    def identity(
        self, token: str | None, org_id: str, user_id: str, version: str | None = None
    ) -> dict[str, Any]:
        """The identity URL's document. A token may read the identity of any user of
        its own org (``asserted_user`` says whether it is its own); another org's
        URL is refused."""
        record = self._identity_token(token)
        if org_id[:15] != record.org_id[:15]:
            raise IdentityRefused(403, "Wrong_Org")
        org = self.directory.org(record.org_id)
        user = org.user_by_id(user_id)
        if user is None:
            raise IdentityRefused(404, "Bad_Id")
        if not user.active:
            raise IdentityRefused(404, "Inactive")
        return identity_document(
            identity_url=self.identity_url(org.org_id, user.user_id),
            instance_url=self.instance_url,
            org=org,
            user=user,
            asserted=user.user_id == record.user_id,
            version=api_version_for(version, org),
            modified_at=self._registered_at[org.org_id],
        )

    def _identity_token(self, token: str | None) -> AccessToken:
        if not token:
            raise IdentityRefused(403, "Missing_OAuth_Token")
        record = self._live_access_token(token)
        if record is None:
            raise IdentityRefused(403, "Bad_OAuth_Token")
        return record

    def _user(self, org_id: str, user_id: str) -> UserEntry:
        user = self.directory.user(org_id, user_id)
        if user is None:
            raise IdentityRefused(404, "Bad_Id")
        return user

    # --- revocation -----------------------------------------------------------------

    @_locked
    def revoke(self, token: str | None) -> None:
        """Revoke an access token (that session only) or a refresh token (the grant
        and every access token issued from it). Anything else is ``invalid_token``.
        [src: mobile-sdk oauth-revoking-tokens.html]"""
        if not token:
            raise RevokeRefused("invalid_token")
        access = self.store.access.get(token)
        if access is not None and not access.revoked:
            access.revoked = True
            return
        grant = self.store.grant_for_refresh_token(token)
        if grant is not None:
            self.store.revoke_grant(grant)
            return
        raise RevokeRefused("invalid_token")

    # --- the two HTTP-facing halves, under the lock ---------------------------------

    @_locked
    def token(
        self, realm: Realm, form: dict[str, str], basic: tuple[str, str] | None
    ) -> dict[str, str]:
        return self.token_endpoint.handle(realm, form, basic)


def _token_from_header(header: str | None) -> str:
    if header is None or not header.strip():
        raise InvalidSession.expired()
    scheme, _, token = header.strip().partition(" ")
    token = token.strip()
    if scheme.lower() not in BEARER_SCHEMES or not token or " " in token:
        raise InvalidSession.bad_header()
    return token
