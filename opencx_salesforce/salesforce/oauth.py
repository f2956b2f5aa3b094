"""OAuth 2.0 with Salesforce: the token requests of the web server flow with
PKCE, refresh, client credentials, revoke, identity, and a check of a Client ID
+ Secret that needs no user.

The authorize URL is :mod:`.authorize_url`; what the endpoints answer (tokens,
identity, errors with hints) is :mod:`.oauth_answers`; the credential check is
:mod:`.credential_check`. The HTTP goes through aiohttp like every other call
the plugin makes, so one session, one set of timeouts and one error mapping
serve both.
"""

from __future__ import annotations

from collections.abc import Mapping

import aiohttp

from opencx_salesforce.salesforce._http import send, timeout_for
from opencx_salesforce.salesforce.authorize_url import (
    AUTHORIZE_PATH,
    REVOKE_PATH,
    TOKEN_PATH,
    USERINFO_PATH,
    authorization_url,
    endpoint,
    new_code_verifier,
    new_state,
)
from opencx_salesforce.salesforce.credential_check import (
    CHECK_CODE,
    CredentialCheck,
    CredentialCheckOutcome,
    check_client_credentials,
)
from opencx_salesforce.salesforce.errors import AuthorizationError, SalesforceError
from opencx_salesforce.salesforce.hosts import check_org_url
from opencx_salesforce.salesforce.oauth_answers import (
    Identity,
    TokenResponse,
    callback_error,
    oauth_error,
)

__all__ = [
    "AUTHORIZE_PATH",
    "CHECK_CODE",
    "REVOKE_PATH",
    "TOKEN_PATH",
    "USERINFO_PATH",
    "CredentialCheck",
    "CredentialCheckOutcome",
    "Identity",
    "OAuthClient",
    "TokenResponse",
    "authorization_url",
    "callback_error",
    "new_code_verifier",
    "new_state",
]


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
        url = endpoint(login_url, REVOKE_PATH)
        raw = await send(self._http(), "POST", url, timeout=self._timeout, data={"token": token})
        if raw.status == 200:
            return
        error = oauth_error(raw)
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
            raise oauth_error(raw)
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
        """Whether a Client ID and Secret are right, before any user signs in
        (:func:`.credential_check.check_client_credentials`)."""
        return await check_client_credentials(
            self._http(), self._timeout, login_url, client_id, client_secret, redirect_uri
        )

    # --- plumbing -------------------------------------------------------------------

    async def _token(self, login_url: str, form: Mapping[str, str]) -> TokenResponse:
        url = endpoint(login_url, TOKEN_PATH)
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
            raise oauth_error(raw)
        answer = TokenResponse.from_json(raw.parsed(), url=raw.url)
        check_org_url(answer.instance_url, login_url=login_url, what="instance_url")
        if answer.id_url:
            check_org_url(answer.id_url, login_url=login_url, what="id")
        return answer
