"""The browser half of the web server flow: the authorize request, the "Allow
Access?" page, and the redirect back to the client. The login page it sends the
browser to is :mod:`.login`.

Pages and addresses follow Salesforce's, so a browser test written here also reads
a real org: the approval page is ``/setup/secur/RemoteAccessAuthorizationPage.apexp``
with ``#oaapprove`` and ``#oadeny``; errors that cannot go back to an untrusted callback land on
``/setup/secur/RemoteAccessErrorPage.apexp?error=...&error_description=...``.
[src: page addresses and element ids as public browser automation drives them, e.g.
jsforce's test/helper/webauth.js and forcedotcom CumulusCI robot keywords]

Errors about the client itself (unknown client, missing or unregistered
redirect_uri) never redirect to the given redirect_uri, which is not trusted yet;
later errors go to the callback as ``?error=...&error_description=...&state=...``.
[src: help.salesforce.com remoteaccess_oauth_flow_errors.htm; RFC 6749 §4.1.2.1]
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING
from urllib.parse import urlencode, urlsplit, urlunsplit

from opencx_salesforce.emulator.oauth.directory import AppEntry, UserEntry
from opencx_salesforce.emulator.oauth.outcomes import (
    ApprovalPage,
    ErrorPage,
    Outcome,
    Redirect,
)
from opencx_salesforce.emulator.oauth.paths import ERROR_PATH, LOGIN_PATH
from opencx_salesforce.emulator.oauth.realms import Realm
from opencx_salesforce.emulator.oauth.scopes import granted_scopes
from opencx_salesforce.emulator.oauth.sessions import (
    LoginHostMemory,
    LoginSession,
    PendingAuthorization,
)
from opencx_salesforce.emulator.oauth.tokens import new_request_id

if TYPE_CHECKING:
    from opencx_salesforce.emulator.oauth.server import AuthServer

DISPLAYS = frozenset({"page", "popup", "touch", "mobile"})


def with_query(url: str, params: Mapping[str, str | None]) -> str:
    """``url`` with ``params`` appended to whatever query it already has."""
    parts = urlsplit(url)
    extra = urlencode([(k, v) for k, v in params.items() if v is not None])
    query = f"{parts.query}&{extra}" if parts.query else extra
    return urlunsplit(parts._replace(query=query))


@dataclass
class AuthorizationFlow:
    server: AuthServer
    memory: LoginHostMemory

    # --- GET /services/oauth2/authorize ---------------------------------------------

    def authorize(self, realm: Realm, params: Mapping[str, str], session_id: str | None) -> Outcome:
        with self.server.lock:
            return self._authorize(realm, params, session_id)

    def _authorize(
        self, realm: Realm, params: Mapping[str, str], session_id: str | None
    ) -> Outcome:
        now = self.server.now()
        self.memory.forget_stale(now)
        state = params.get("state")
        # Same answer for an unknown key, the other login host's app and an app
        # still propagating. [src: token_endpoint.py module docstring]
        app = self.server.directory.app_at(realm, params.get("client_id"), now)
        if app is None:
            return self._error_page(realm, "invalid_client_id", "client identifier invalid", state)
        redirect_uri = params.get("redirect_uri")
        if not redirect_uri:
            # [src: help remoteaccess_oauth_flow_errors.htm "redirect_uri_missing";
            # description wording UNCONFIRMED]
            return self._error_page(
                realm, "redirect_uri_missing", "redirect_uri must be provided", state
            )
        if redirect_uri not in app.callback_urls:
            # An exact match with one of the app's Callback URLs. [src: SALESFORCE.md §1]
            return self._error_page(
                realm, "redirect_uri_mismatch", "redirect_uri must match configuration", state
            )
        if params.get("response_type") != "code":
            # The emulator serves the web server flow only (Salesforce also has the
            # user-agent "token" flow). [src: help remoteaccess_oauth_flow_errors.htm
            # "unsupported_response_type"; description wording UNCONFIRMED]
            return Redirect(
                _callback_error(
                    redirect_uri, "unsupported_response_type", "response type not supported", state
                )
            )
        scopes = granted_scopes(params.get("scope"), app.seed.scopes)
        if scopes is None:
            # [src: help remoteaccess_oauth_flow_errors.htm "invalid_scope"; wording UNCONFIRMED]
            return Redirect(
                _callback_error(
                    redirect_uri, "invalid_scope", "the requested scope is not allowed", state
                )
            )
        display = params.get("display", "page")
        pending = PendingAuthorization(
            request_id=new_request_id(),
            realm=realm,
            client_id=app.client_id,
            org_id=app.org_id,
            redirect_uri=redirect_uri,
            state=state,
            scopes=scopes,
            # Salesforce documents only the S256 method, so code_challenge_method is
            # not needed to read the challenge. [src: api_rest
            # intro_understanding_web_server_oauth_flow.htm code_challenge]
            code_challenge=params.get("code_challenge") or None,
            prompts=frozenset(params.get("prompt", "").split()),
            immediate=params.get("immediate", "false").lower() == "true",
            login_hint=params.get("login_hint", ""),
            display=display if display in DISPLAYS else "page",
            created_at=now,
        )
        self.memory.pending[pending.request_id] = pending
        return self._advance(pending, self._session(realm, session_id, app.org_id), on_page=False)

    # --- the approval page ----------------------------------------------------------

    def approval(self, realm: Realm, request_id: str, session_id: str | None) -> Outcome:
        with self.server.lock:
            pending = self._pending_by_id(realm, request_id)
            if pending is None:
                return _expired_request()
            session = self._session(realm, session_id, pending.org_id)
            return self._advance(pending, session, on_page=True)

    def decide(self, realm: Realm, request_id: str, session_id: str | None, allow: bool) -> Outcome:
        """Allow or Deny on the approval page."""
        with self.server.lock:
            pending = self._pending_by_id(realm, request_id)
            if pending is None:
                return _expired_request()
            session = self._session(realm, session_id, pending.org_id)
            if session is None:
                return self._advance(pending, None, on_page=True)
            if not allow:
                # [src: help remoteaccess_oauth_flow_errors.htm; the description as
                # recorded by Salesforce's Mobile SDK: error=access_denied&
                # error_description=end-user+denied+authorization]
                return self._finish_with_error(
                    pending, "access_denied", "end-user denied authorization"
                )
            user = self.server.directory.user(session.org_id, session.user_id)
            app = self.server.directory.apps.get(pending.client_id)
            if user is not None and app is not None:
                self.server.record_approval(user, app)
            pending.consented = True
            return self._advance(pending, session, on_page=True)

    # --- the decision ---------------------------------------------------------------

    def _advance(
        self, pending: PendingAuthorization, session: LoginSession | None, *, on_page: bool
    ) -> Outcome:
        """The next step for a pending request: login, account choice, approval, or
        the redirect back with a code."""
        prompts = pending.prompts
        if session is None or ("login" in prompts and not pending.logged_in_here):
            return self._interaction(pending, self._login_redirect(pending))
        if "select_account" in prompts and not pending.account_chosen:
            return self._interaction(pending, self._login_redirect(pending))
        user = self.server.directory.user(session.org_id, session.user_id)
        app = self.server.directory.apps.get(pending.client_id)
        if app is None:
            return self._finish_with_error(
                pending, "invalid_client_id", "client identifier invalid"
            )
        if user is None or not user.active:
            # [src: help remoteaccess_oauth_flow_errors.htm "inactive_user"; description
            # wording UNCONFIRMED]
            return self._finish_with_error(pending, "inactive_user", "user is inactive")
        if self._needs_no_consent(pending, user, app):
            return self._issue_code(pending, user)
        if pending.immediate:
            return self._immediate_failed(pending)
        if on_page:
            return ApprovalPage(
                realm=pending.realm,
                request_id=pending.request_id,
                app_name=app.name,
                scopes=pending.scopes,
                username=user.username,
                display=pending.display,
            )
        return Redirect(self.server.realm_url(pending.realm, pending.start_url))

    def _needs_no_consent(
        self, pending: PendingAuthorization, user: UserEntry, app: AppEntry
    ) -> bool:
        # Admin-approved apps show no approval page: the admin approved for the user.
        # Users the admin did not approve still get a code, which the token endpoint
        # refuses with invalid_app_access, as recorded [src: forcedotcom/cli issue
        # 3260 "Error authenticating with auth code due to: invalid_app_access::user
        # is not admin approved to access this app"].
        if app.admin_approved_only or pending.consented:
            return True
        return self.server.has_approved(user, app) and "consent" not in pending.prompts

    def _interaction(self, pending: PendingAuthorization, redirect: Redirect) -> Outcome:
        return self._immediate_failed(pending) if pending.immediate else redirect

    def _immediate_failed(self, pending: PendingAuthorization) -> Outcome:
        # immediate=true and the user would have to log in or approve.
        # [src: api_rest intro_understanding_web_server_oauth_flow.htm "immediate";
        # description wording UNCONFIRMED]
        return self._finish_with_error(pending, "immediate_unsuccessful", "immediate unsuccessful")

    def _issue_code(self, pending: PendingAuthorization, user: UserEntry) -> Redirect:
        code = self.server.store.issue_code(
            org_id=user.org_id,
            user_id=user.user_id,
            client_id=pending.client_id,
            redirect_uri=pending.redirect_uri,
            scopes=pending.scopes,
            code_challenge=pending.code_challenge,
            now=self.server.now(),
        )
        self.memory.pending.pop(pending.request_id, None)
        # <redirect_uri>?code=...&state=... [src: help remoteaccess_oauth_web_server_flow.htm]
        return Redirect(
            with_query(pending.redirect_uri, {"code": code.code, "state": pending.state})
        )

    def _finish_with_error(
        self, pending: PendingAuthorization, error: str, description: str
    ) -> Redirect:
        self.memory.pending.pop(pending.request_id, None)
        return Redirect(_callback_error(pending.redirect_uri, error, description, pending.state))

    # --- helpers --------------------------------------------------------------------

    def _error_page(
        self, realm: Realm, error: str, description: str, state: str | None
    ) -> Redirect:
        query = {"error": error, "error_description": description, "state": state}
        return Redirect(with_query(self.server.realm_url(realm, ERROR_PATH), query))

    def _login_redirect(self, pending: PendingAuthorization) -> Redirect:
        query = urlencode({"ec": "302", "startURL": pending.start_url})
        return Redirect(self.server.realm_url(pending.realm, f"{LOGIN_PATH}?{query}"))

    def _session(
        self, realm: Realm, session_id: str | None, org_id: str | None
    ) -> LoginSession | None:
        return self.memory.session(realm, session_id, org_id, self.server.now())

    def _pending_by_id(self, realm: Realm, request_id: str) -> PendingAuthorization | None:
        return self.memory.pending_by_id(realm, request_id, self.server.now())


def _callback_error(redirect_uri: str, error: str, description: str, state: str | None) -> str:
    query = {"error": error, "error_description": description, "state": state}
    return with_query(redirect_uri, query)


def _expired_request() -> ErrorPage:
    # The approval page for a request that is gone (used, denied or too old).
    return ErrorPage("invalid_request", "the authorization request has expired")
