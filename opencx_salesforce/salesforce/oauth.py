"""OAuth 2.0 with Salesforce: the web server flow with PKCE, refresh, revoke,
identity, and a check of a Client ID + Secret that needs no user.

Endpoints live under the login URL (``https://login.salesforce.com``,
``https://test.salesforce.com`` for sandboxes, or the org's My Domain):
``/services/oauth2/authorize``, ``/token``, ``/revoke``, ``/userinfo``.
[src: api_rest intro_understanding_web_server_oauth_flow.htm;
help remoteaccess_oauth_web_server_flow.htm]

URL building and PKCE come from authlib's RFC helpers; the HTTP goes through
aiohttp like every other call the plugin makes, so one session, one set of
timeouts and one error mapping serve both.

Every OAuth error the token endpoint can return is mapped to what the admin
should change in the Connected App (:mod:`.oauth_hints`).
"""

from __future__ import annotations

import enum
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import aiohttp
from authlib.common.security import generate_token
from authlib.oauth2.rfc6749.parameters import prepare_grant_uri
from authlib.oauth2.rfc7636 import create_s256_code_challenge

from opencx_salesforce.salesforce._http import RawResponse, send, timeout_for
from opencx_salesforce.salesforce.errors import (
    AuthorizationError,
    SalesforceError,
    TransportError,
    error_for_response,
)
from opencx_salesforce.salesforce.hosts import check_org_url
from opencx_salesforce.salesforce.oauth_hints import APP_NOT_FOUND, WRONG_SECRET, hint_for

AUTHORIZE_PATH = "/services/oauth2/authorize"
TOKEN_PATH = "/services/oauth2/token"
REVOKE_PATH = "/services/oauth2/revoke"
USERINFO_PATH = "/services/oauth2/userinfo"


def callback_error(error: str, description: str = "") -> AuthorizationError:
    """The error a callback URL carried (``?error=…&error_description=…``), with
    its hint. Salesforce's own web server flow example spells the denial
    ``access-denied`` (hyphen) where the user-agent flow says ``access_denied``;
    both mean the same. [src: help remoteaccess_oauth_flow_errors.htm]"""
    code = error.strip().replace("-", "_")
    return AuthorizationError(code, description, hint=hint_for(code, description))


# --- the authorize URL (pure) ---------------------------------------------------------


def new_state() -> str:
    """An unguessable ``state`` value (binds the callback to this browser)."""
    return secrets.token_urlsafe(32)


def new_code_verifier() -> str:
    """A PKCE code_verifier: 64 unreserved characters (RFC 7636 §4.1: 43–128)."""
    return str(generate_token(64))


def authorization_url(
    login_url: str,
    client_id: str,
    redirect_uri: str,
    scopes: str | Sequence[str],
    state: str,
    code_verifier: str,
    *,
    prompt: str | None = None,
) -> str:
    """Where to send the admin's browser to approve the plugin.

    ``code_challenge`` is the base64url SHA-256 of ``code_verifier`` (RFC 7636
    S256); the verifier goes to the token request. [src: api_rest
    intro_understanding_web_server_oauth_flow.htm "code_challenge"]
    ``prompt`` (``login``, ``consent``, ``select_account``, space separated)
    makes Salesforce ask again even when a session is open in the browser.
    """
    extra: dict[str, str] = {
        "code_challenge": create_s256_code_challenge(code_verifier),
        "code_challenge_method": "S256",
    }
    if prompt:
        extra["prompt"] = prompt
    return str(
        prepare_grant_uri(
            _endpoint(login_url, AUTHORIZE_PATH),
            client_id,
            "code",
            redirect_uri=redirect_uri,
            scope=scopes if isinstance(scopes, str) else " ".join(scopes),
            state=state,
            **extra,
        )
    )


# --- token responses ------------------------------------------------------------------


@dataclass(frozen=True)
class TokenResponse:
    """A successful token-endpoint answer. No ``expires_in``: an access token
    lives as long as the org's session timeout, and the client learns it expired
    from a 401. [src: api_rest intro_understanding_refresh_token_oauth.htm]"""

    access_token: str = field(repr=False)
    instance_url: str
    id_url: str
    refresh_token: str | None = field(default=None, repr=False)
    issued_at: str | None = None
    scope: str | None = None
    token_type: str = "Bearer"

    @classmethod
    def from_json(cls, data: Any, *, url: str) -> TokenResponse:
        if not isinstance(data, dict) or not data.get("access_token"):
            # The body may hold tokens: say what is missing, never what is there.
            keys = sorted(data) if isinstance(data, dict) else type(data).__name__
            raise SalesforceError(
                f"the token endpoint answered 200 without an access_token (keys: {keys})",
                url=url,
                status=200,
            )
        if not data.get("instance_url"):
            raise SalesforceError(
                "the token endpoint answered without an instance_url", url=url, status=200
            )
        return cls(
            access_token=str(data["access_token"]),
            instance_url=str(data["instance_url"]).rstrip("/"),
            id_url=str(data.get("id", "")),
            refresh_token=str(data["refresh_token"]) if data.get("refresh_token") else None,
            issued_at=str(data["issued_at"]) if data.get("issued_at") else None,
            scope=str(data["scope"]) if data.get("scope") else None,
            token_type=str(data.get("token_type", "Bearer")),
        )


@dataclass(frozen=True)
class Identity:
    """Who connected: from the identity URL (the token's ``id``).
    [src: mobile-sdk oauth-using-identity-urls.html]"""

    user_id: str
    org_id: str
    username: str = ""
    display_name: str = ""
    email: str = ""

    @classmethod
    def from_id_url(cls, id_url: str) -> Identity:
        """The org and user Ids the identity URL itself carries
        (``…/id/<orgId>/<userId>``), for when the identity call fails."""
        parts = id_url.rstrip("/").split("/")
        if len(parts) >= 3 and parts[-3] == "id":
            return cls(user_id=parts[-1], org_id=parts[-2])
        return cls(user_id="", org_id="")


class CredentialCheckOutcome(enum.StrEnum):
    OK = "ok"
    WRONG_CLIENT_ID = "wrong_client_id"
    WRONG_SECRET = "wrong_secret"
    CALLBACK_MISMATCH = "callback_mismatch"
    UNREACHABLE = "unreachable"
    UNEXPECTED = "unexpected"


@dataclass(frozen=True)
class CredentialCheck:
    outcome: CredentialCheckOutcome
    message: str
    error: str | None = None  # the OAuth error code Salesforce returned

    @property
    def ok(self) -> bool:
        return self.outcome is CredentialCheckOutcome.OK


# A code Salesforce never issued: the token endpoint must reject it, and which
# error it picks says how far the client authentication got.
CHECK_CODE = "opencx-credential-check-not-a-real-code"


class OAuthClient:
    """Calls Salesforce's OAuth endpoints. Pass a ``session`` to share one (tests
    point it anywhere); without one the client opens its own on first use and
    :meth:`close` closes it."""

    def __init__(
        self,
        session: aiohttp.ClientSession | None = None,
        *,
        timeout: float = 30.0,
        connect_timeout: float = 10.0,
    ) -> None:
        self._session = session
        self._owns_session = session is None
        self._timeout = timeout_for(timeout, connect_timeout)
        self.token_requests = 0  # how many times this client asked for a token

    async def close(self) -> None:
        if self._owns_session and self._session is not None:
            await self._session.close()
            self._session = None

    def _http(self) -> aiohttp.ClientSession:
        if self._session is None:
            self._session = aiohttp.ClientSession()
        return self._session

    # --- grants ---------------------------------------------------------------------

    async def exchange_code(
        self,
        login_url: str,
        client_id: str,
        client_secret: str,
        code: str,
        redirect_uri: str,
        code_verifier: str | None,
    ) -> TokenResponse:
        """Trade the authorization code from the callback for tokens."""
        form = {
            "grant_type": "authorization_code",
            "code": code,
            "client_id": client_id,
            "client_secret": client_secret,
            "redirect_uri": redirect_uri,
        }
        if code_verifier:
            form["code_verifier"] = code_verifier
        return await self._token(login_url, form)

    async def refresh(
        self, login_url: str, client_id: str, client_secret: str, refresh_token: str
    ) -> TokenResponse:
        """A new access token from the refresh token. The answer carries a new
        refresh token only when the app rotates them. [src: help
        remoteaccess_oauth_refresh_token_flow.htm]"""
        form = {
            "grant_type": "refresh_token",
            "refresh_token": refresh_token,
            "client_id": client_id,
            "client_secret": client_secret,
        }
        return await self._token(login_url, form)

    async def client_credentials(
        self, login_url: str, client_id: str, client_secret: str
    ) -> TokenResponse:
        """A token for the app's Run As user, no browser involved (the app must
        enable the client-credentials flow). Only My Domain URLs accept it on
        real orgs."""
        form = {
            "grant_type": "client_credentials",
            "client_id": client_id,
            "client_secret": client_secret,
        }
        return await self._token(login_url, form)

    async def revoke(self, login_url: str, token: str) -> None:
        """Revoke an access or refresh token (a refresh token takes its access
        tokens with it). 200 on success; 400 invalid_token when it is already
        gone, which counts as done. [src: mobile-sdk oauth-revoking-tokens.html]"""
        url = _endpoint(login_url, REVOKE_PATH)
        raw = await send(self._http(), "POST", url, timeout=self._timeout, data={"token": token})
        if raw.status == 200:
            return
        error = _oauth_error(raw)
        if isinstance(error, AuthorizationError) and error.error == "invalid_token":
            return
        raise error

    async def identity(self, id_url: str, access_token: str) -> Identity:
        """Who the token belongs to, from the identity URL."""
        raw = await send(
            self._http(),
            "GET",
            id_url,
            timeout=self._timeout,
            headers={"Authorization": f"Bearer {access_token}", "Accept": "application/json"},
        )
        if raw.status != 200:
            raise _oauth_error(raw)
        data = raw.parsed()
        if not isinstance(data, dict):
            raise SalesforceError(
                "the identity URL did not answer with JSON", url=raw.url, status=raw.status
            )
        fallback = Identity.from_id_url(id_url)
        return Identity(
            user_id=str(data.get("user_id") or fallback.user_id),
            org_id=str(data.get("organization_id") or fallback.org_id),
            username=str(data.get("username") or data.get("preferred_username") or ""),
            display_name=str(data.get("display_name") or data.get("name") or ""),
            email=str(data.get("email") or ""),
        )

    async def check_client_credentials(
        self, login_url: str, client_id: str, client_secret: str, redirect_uri: str
    ) -> CredentialCheck:
        """Whether a Client ID and Secret are right, before any user signs in.

        Posts an authorization-code grant with a code Salesforce never issued.
        The token endpoint authenticates the client before it looks at the
        grant (RFC 6749 §5.2: ``invalid_client`` is client authentication
        failing, ``invalid_grant`` the grant being wrong), so the error names the
        first thing that is wrong:

        * ``invalid_client_id`` ("client identifier invalid"): the Client ID is
          unknown at this login URL: a typo, an app still activating (up to 10
          minutes), or a sandbox/production mix-up of the login URL;
        * ``invalid_client`` / ``invalid_client_credentials`` ("invalid client
          credentials"): the ID is right, the secret wrong;
        * ``invalid_grant`` ("invalid authorization code"): ID and secret are
          right, only the fake code was refused;
        * ``redirect_uri_mismatch``: the ID is right, the Callback URL differs.

        [src: RFC 6749 §4.1.3 and §5.2 (the client is authenticated before the
        code is validated); Salesforce's wording from SALESFORCE.md §1 fixtures
        ("client identifier invalid", "invalid authorization code") and
        restforce/restforce issue 338 (recorded "invalid_client: invalid client
        credentials" for a wrong secret). No recording of Salesforce answering a
        made-up code was found: the order is the RFC's. A new app answers
        "client identifier invalid" until it has propagated (github
        pozil/salesforce-react-integration issue 15).]
        """
        form = {
            "grant_type": "authorization_code",
            "code": CHECK_CODE,
            "client_id": client_id,
            "client_secret": client_secret,
            "redirect_uri": redirect_uri,
        }
        url = _endpoint(login_url, TOKEN_PATH)
        try:
            raw = await send(self._http(), "POST", url, timeout=self._timeout, data=form)
        except TransportError as exc:
            return CredentialCheck(
                CredentialCheckOutcome.UNREACHABLE,
                f"Could not reach {login_url}: {exc.message}. Check the login URL.",
            )
        if raw.status == 200:
            # A real org never accepts a made-up code; something is off.
            return CredentialCheck(
                CredentialCheckOutcome.UNEXPECTED,
                f"{login_url} accepted a made-up authorization code; is this a Salesforce "
                "login URL?",
            )
        error = _oauth_error(raw)
        if not isinstance(error, AuthorizationError):
            return CredentialCheck(
                CredentialCheckOutcome.UNEXPECTED,
                f"{login_url} did not answer like a Salesforce token endpoint: {error.message}",
            )
        code = error.error
        if code == "invalid_grant":
            return CredentialCheck(
                CredentialCheckOutcome.OK, "Client ID and Client Secret are right.", code
            )
        if code == "invalid_client_id":
            return CredentialCheck(CredentialCheckOutcome.WRONG_CLIENT_ID, APP_NOT_FOUND, code)
        if code in ("invalid_client", "invalid_client_credentials"):
            return CredentialCheck(CredentialCheckOutcome.WRONG_SECRET, WRONG_SECRET, code)
        if code == "redirect_uri_mismatch":
            return CredentialCheck(
                CredentialCheckOutcome.CALLBACK_MISMATCH,
                f"The Client ID is right, but the Connected App's Callback URL must be "
                f"exactly {redirect_uri}.",
                code,
            )
        return CredentialCheck(CredentialCheckOutcome.UNEXPECTED, error.message, code)

    # --- plumbing -------------------------------------------------------------------

    async def _token(self, login_url: str, form: Mapping[str, str]) -> TokenResponse:
        url = _endpoint(login_url, TOKEN_PATH)
        self.token_requests += 1
        raw = await send(
            self._http(),
            "POST",
            url,
            timeout=self._timeout,
            data=form,
            headers={"Accept": "application/json"},
        )
        if raw.status != 200:
            raise _oauth_error(raw)
        answer = TokenResponse.from_json(raw.parsed(), url=raw.url)
        check_org_url(answer.instance_url, login_url=login_url, what="instance_url")
        if answer.id_url:
            check_org_url(answer.id_url, login_url=login_url, what="id")
        return answer


def _endpoint(login_url: str, path: str) -> str:
    return login_url.rstrip("/") + path


def _oauth_error(raw: RawResponse) -> SalesforceError:
    """OAuth endpoints answer errors as {"error", "error_description"} (HTTP 400,
    or 401 for a bad bearer token at userinfo). Anything else (a 503 maintenance
    page, a 500) goes through the REST mapping, so an outage stays retryable.
    [src: help remoteaccess_oauth_flow_errors.htm]"""
    body = raw.parsed()
    if isinstance(body, dict) and isinstance(body.get("error"), str):
        code = body["error"]
        description = str(body.get("error_description") or "")
        return AuthorizationError(
            code,
            description,
            hint=hint_for(code, description),
            url=raw.url,
            status=raw.status,
            body=body,
        )
    return error_for_response(url=raw.url, status=raw.status, body=body, headers=raw.headers)
