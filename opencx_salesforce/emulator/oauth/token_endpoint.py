"""``POST /services/oauth2/token``: the authorization code, refresh token and client
credentials grants.

Checks run in this order, and each refusal names the first thing that is wrong:

1. ``grant_type`` — a body that is not form-encoded has none, and Salesforce then
   answers ``unsupported_grant_type`` "grant type not supported" whatever else is
   in it. [src: stackoverflow.com/questions/10890467 (answer by a Salesforce
   engineer: the Content-Type was missing); developer.salesforce.com forums
   906F00000008nFOIAY]
2. the client id — unknown at this login host, the other host's app, or an app
   still propagating: ``invalid_client_id`` "client identifier invalid".
3. the client secret — ``invalid_client`` "invalid client credentials" [src:
   restforce/restforce issue 338, recorded "invalid_client: invalid client
   credentials" for a wrong secret].
4. the grant itself (code, redirect URI, PKCE, refresh token, run-as user).

So a right Client ID and Secret with a made-up code get ``invalid_grant`` "invalid
authorization code": RFC 6749 §4.1.3 has the server authenticate the client before
it validates the code, and the recorded refusals above come from client checks
made with otherwise valid requests. No recording of Salesforce answering a made-up
code was found; the order is the RFC's and matches every recorded refusal.

A new Connected App "may take up to 5-10 minutes" and until then answers "client
identifier invalid", the same as an unknown key: the platform gives no separate
"not yet active" error, so neither does the emulator. [src: github
pozil/salesforce-react-integration issue 15 (Salesforce developer advocate): "there's
a latency when configuring those apps ... you may see errors like 'client
identifier invalid'"]

The success body is exactly the documented one (``access_token``, ``refresh_token``
for the code grant, ``signature``, ``scope``, ``instance_url``, ``id``,
``token_type``, ``issued_at``) with no ``expires_in``. [src: SALESFORCE.md §1]
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING

from opencx_salesforce.emulator.oauth.directory import AppEntry, UserEntry
from opencx_salesforce.emulator.oauth.errors import OAuthError
from opencx_salesforce.emulator.oauth.realms import Realm
from opencx_salesforce.emulator.oauth.scopes import REFRESH_SCOPES, SFAP_SCOPE
from opencx_salesforce.emulator.oauth.store import Grant
from opencx_salesforce.emulator.oauth.tokens import issued_at_ms, s256, same, signature

if TYPE_CHECKING:
    from opencx_salesforce.emulator.oauth.server import AuthServer

AUTHORIZATION_CODE = "authorization_code"
REFRESH_TOKEN = "refresh_token"
CLIENT_CREDENTIALS = "client_credentials"


# Wording as recorded from Salesforce. [src: SALESFORCE.md §1 fixtures]
CLIENT_ID_INVALID = ("invalid_client_id", "client identifier invalid")
CLIENT_SECRET_INVALID = ("invalid_client", "invalid client credentials")
GRANT_TYPE_UNSUPPORTED = ("unsupported_grant_type", "grant type not supported")
REDIRECT_MISMATCH = ("redirect_uri_mismatch", "redirect_uri must match configuration")
CODE_INVALID = ("invalid_grant", "invalid authorization code")
# A code used twice reads as expired. [src: omniphx/forrest issue 169: a reused code
# got {"error":"invalid_grant","error_description":"expired authorization code"}]
CODE_EXPIRED = ("invalid_grant", "expired authorization code")
REFRESH_INVALID = ("invalid_grant", "expired access/refresh token")
# [src: restforce/restforce issue 303, recorded "invalid_grant: inactive user"]
USER_INACTIVE = ("invalid_grant", "inactive user")
# [src: forcedotcom/cli issue 3260, recorded at the code exchange:
# "invalid_app_access::user is not admin approved to access this app"]
NOT_ADMIN_APPROVED = ("invalid_app_access", "user is not admin approved to access this app")
# [src: recorded in many client fixtures, e.g. {"error":"invalid_grant",
# "error_description":"no client credentials user enabled"} when no Run As user is set]
NO_RUN_AS_USER = ("invalid_grant", "no client credentials user enabled")
# PKCE: a verifier that does not match is invalid_request; a missing one, when the
# authorize request carried a challenge, is invalid_grant. [src: api_rest
# intro_understanding_web_server_oauth_flow.htm (ja-jp 224.0); the description as
# Salesforce support worded it in n8n-io/n8n issue 32421 "Invalid Code Verifier"]
VERIFIER_MISMATCH = ("invalid_request", "invalid code verifier")
VERIFIER_MISSING = ("invalid_grant", "invalid code verifier")


# The Salesforce API Platform host. [src: developer.salesforce.com/docs/ai/agentforce/
# guide/access-models-api-with-rest.html (https://api.salesforce.com/einstein/...)]
API_PLATFORM_URL = "https://api.salesforce.com"


class TokenEndpoint:
    def __init__(self, server: AuthServer) -> None:
        self._server = server
        self._grants: dict[str, Callable[[AppEntry, Mapping[str, str]], dict[str, str]]] = {
            AUTHORIZATION_CODE: self._authorization_code,
            REFRESH_TOKEN: self._refresh_token,
            CLIENT_CREDENTIALS: self._client_credentials,
        }

    def handle(
        self, realm: Realm, form: Mapping[str, str], basic: tuple[str, str] | None
    ) -> dict[str, str]:
        """The token response for a form, or :class:`OAuthError`. ``basic`` is the
        client id and secret from ``Authorization: Basic``, which Salesforce accepts
        instead of the body fields. [src: SALESFORCE.md §1 token request]"""
        grant_type = form.get("grant_type", "")
        client_id, client_secret = (
            basic if basic else (form.get("client_id"), form.get("client_secret"))
        )
        counters = self._server.counters
        counters.record_request(client_id or "", grant_type)
        handler = self._grants.get(grant_type)
        if handler is None:
            raise OAuthError(*GRANT_TYPE_UNSUPPORTED)
        app = self._server.directory.app_at(realm, client_id, self._server.now())
        if app is None:
            raise OAuthError(*CLIENT_ID_INVALID)
        self._authenticate(app, grant_type, client_secret)
        response = handler(app, form)
        counters.record_issued(app.client_id, grant_type)
        return response

    @staticmethod
    def _authenticate(app: AppEntry, grant_type: str, client_secret: str | None) -> None:
        # The web server and client credentials flows require the secret (the
        # Connected App default "Require Secret for Web Server Flow"); the refresh
        # flow checks it when sent. [src: help.salesforce.com
        # connected_app_create_api_integration.htm "Require Secret for Refresh Token Flow"]
        if client_secret is None and grant_type == REFRESH_TOKEN:
            return
        if client_secret is None or not same(client_secret, app.seed.client_secret):
            raise OAuthError(*CLIENT_SECRET_INVALID)

    # --- grants ---------------------------------------------------------------------

    def _authorization_code(self, app: AppEntry, form: Mapping[str, str]) -> dict[str, str]:
        redirect_uri = form.get("redirect_uri")
        if redirect_uri is None or redirect_uri not in app.callback_urls:
            raise OAuthError(*REDIRECT_MISMATCH)
        now = self._server.now()
        code = self._server.store.codes.get(form.get("code", ""))
        if code is None or code.client_id != app.client_id:
            raise OAuthError(*CODE_INVALID)
        if code.used or code.expired(now):
            raise OAuthError(*CODE_EXPIRED)
        if code.redirect_uri != redirect_uri:
            raise OAuthError(*REDIRECT_MISMATCH)
        if code.code_challenge is not None:
            verifier = form.get("code_verifier")
            if not verifier:
                raise OAuthError(*VERIFIER_MISSING)
            if not same(s256(verifier), code.code_challenge):
                raise OAuthError(*VERIFIER_MISMATCH)
        user = self._user_for_grant(app, code.org_id, code.user_id)
        code.used = True
        grant = None
        if REFRESH_SCOPES & set(code.scopes):
            grant = self._server.store.open_grant(
                org_id=user.org_id,
                user_id=user.user_id,
                client_id=app.client_id,
                scopes=code.scopes,
                now=now,
            )
        return self._respond(app, user, code.scopes, grant, include_refresh=grant is not None)

    def _refresh_token(self, app: AppEntry, form: Mapping[str, str]) -> dict[str, str]:
        grant = self._server.store.grant_for_refresh_token(form.get("refresh_token", ""))
        if grant is None or grant.client_id != app.client_id:
            raise OAuthError(*REFRESH_INVALID)
        user = self._user_for_grant(app, grant.org_id, grant.user_id)
        # A new refresh token only when the app rotates them; the old one then stops
        # working. [src: api_rest intro_understanding_refresh_token_oauth.htm (no
        # refresh_token in the response); help remoteaccess_oauth_refresh_token_flow.htm]
        rotate = app.seed.rotate_refresh_tokens
        if rotate:
            self._server.store.rotate(grant)
        return self._respond(app, user, grant.scopes, grant, include_refresh=rotate)

    def _client_credentials(self, app: AppEntry, form: Mapping[str, str]) -> dict[str, str]:
        """Runs as the app's "Run As" user; no refresh token. [src: help.salesforce.com
        remoteaccess_oauth_client_credentials_flow.htm]"""
        username = app.seed.client_credentials_user
        org = self._server.directory.org(app.org_id)
        user = org.users.get(username) if username else None
        if user is None:
            raise OAuthError(*NO_RUN_AS_USER)
        if not user.active:
            raise OAuthError(*USER_INACTIVE)
        scopes = tuple(s for s in app.seed.scopes if s not in REFRESH_SCOPES)
        return self._respond(app, user, scopes, None, include_refresh=False)

    def _user_for_grant(self, app: AppEntry, org_id: str, user_id: str) -> UserEntry:
        user = self._server.directory.user(org_id, user_id)
        if user is None or not user.active:
            raise OAuthError(*USER_INACTIVE)
        if not app.admits(user):
            raise OAuthError(*NOT_ADMIN_APPROVED)
        return user

    # --- the answer -----------------------------------------------------------------

    def _respond(
        self,
        app: AppEntry,
        user: UserEntry,
        scopes: tuple[str, ...],
        grant: Grant | None,
        *,
        include_refresh: bool,
    ) -> dict[str, str]:
        server = self._server
        now = server.now()
        access = server.store.issue_access(
            org_id=user.org_id,
            user_id=user.user_id,
            client_id=app.client_id,
            scopes=scopes,
            now=now,
            lifetime=server.org_of(user).session_timeout,
            grant=grant,
        )
        identity_url = server.identity_url(user.org_id, user.user_id)
        issued_at = issued_at_ms(now)
        body = {"access_token": access.token}
        if include_refresh and grant is not None:
            body["refresh_token"] = grant.refresh_token
        body.update(
            {
                "signature": signature(app.seed.client_secret, identity_url, issued_at),
                "scope": " ".join(scopes),
                "instance_url": server.instance_url,
                "id": identity_url,
                "token_type": "Bearer",
                "issued_at": issued_at,
            }
        )
        if SFAP_SCOPE in scopes:
            # Tokens with the sfap_api scope also name the API Platform host clients
            # call for the Models API. [src: Salesforce Mobile SDK
            # OAuth2.TokenEndpointResponse.apiInstanceUrl, read from "api_instance_url";
            # the Models API authentication guide (sfap_api scope, api.salesforce.com).
            # The field's presence for other scopes and its exact value are UNCONFIRMED
            # in the docs: the emulator sends it with sfap_api only.]
            body["api_instance_url"] = API_PLATFORM_URL
        return body
