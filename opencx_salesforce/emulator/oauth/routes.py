"""The authorization server over HTTP, mounted once per login realm (``{base_url}``
plays login.salesforce.com, ``{base_url}/sandbox`` plays test.salesforce.com):

=========================================================  ==========================
``GET|POST  /services/oauth2/authorize``                   start the web server flow
``GET|POST  /``                                            the login page
``GET|POST  /setup/secur/RemoteAccessAuthorizationPage.apexp``  "Allow Access?"
``GET       /setup/secur/RemoteAccessErrorPage.apexp``     client errors
``GET       /secur/logout.jsp``                            end the login session
``POST      /services/oauth2/token``                       the token endpoint
``GET|POST  /services/oauth2/revoke``                      revoke a token
``GET|POST  /services/oauth2/userinfo``                    OpenID Connect UserInfo
``GET|POST  /id/{orgId}/{userId}``                         the identity URL
=========================================================  ==========================

[src: api_rest intro_understanding_web_server_oauth_flow.htm; SALESFORCE.md §1]
"""

from __future__ import annotations

import base64
import binascii
import functools
import json
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

from aiohttp import web

from opencx_salesforce.emulator.oauth.errors import (
    NO_STORE,
    IdentityRefused,
    OAuthError,
    RevokeRefused,
)
from opencx_salesforce.emulator.oauth.outcomes import (
    ApprovalPage,
    ErrorPage,
    LoginPage,
    Outcome,
    Redirect,
)
from opencx_salesforce.emulator.oauth.pages import (
    PAGE_HEADERS,
    approval_html,
    error_html,
    login_html,
)
from opencx_salesforce.emulator.oauth.paths import (
    APPROVAL_PATH,
    ERROR_PATH,
    LOGIN_PATH,
    LOGOUT_PATH,
)
from opencx_salesforce.emulator.oauth.realms import Realm

if TYPE_CHECKING:
    from opencx_salesforce.emulator.oauth.server import AuthServer
    from opencx_salesforce.emulator.state import EmulatorState

JSON = "application/json"
FORM = "application/x-www-form-urlencoded"
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
RealmHandler = Callable[[Realm, web.Request], Awaitable[web.StreamResponse]]


def add_oauth_routes(app: web.Application, state: EmulatorState) -> None:
    routes = OAuthRoutes(state.auth)
    table: list[tuple[str, str, RealmHandler]] = [
        ("GET", "/services/oauth2/authorize", routes.authorize),
        ("POST", "/services/oauth2/authorize", routes.authorize),
        ("GET", LOGIN_PATH, routes.login_page),
        ("POST", LOGIN_PATH, routes.login),
        ("GET", APPROVAL_PATH, routes.approval),
        ("POST", APPROVAL_PATH, routes.decide),
        ("GET", ERROR_PATH, routes.error_page),
        ("GET", LOGOUT_PATH, routes.logout),
        ("POST", "/services/oauth2/token", routes.token),
        ("GET", "/services/oauth2/revoke", routes.revoke),
        ("POST", "/services/oauth2/revoke", routes.revoke),
        ("GET", "/services/oauth2/userinfo", routes.userinfo),
        ("POST", "/services/oauth2/userinfo", routes.userinfo),
        ("GET", "/id/{org_id}/{user_id}", routes.identity),
        ("POST", "/id/{org_id}/{user_id}", routes.identity),
    ]
    for realm in Realm:
        for method, path, handler in table:
            bound: Handler = functools.partial(handler, realm)
            app.router.add_route(method, realm.prefix + path, bound)
            if realm.prefix and path == LOGIN_PATH:
                # "{base_url}/sandbox" without the trailing slash is the same page.
                app.router.add_route(method, realm.prefix, bound)


def json_response(status: int, body: Any, headers: dict[str, str] | None = None) -> web.Response:
    return web.Response(
        status=status,
        text=json.dumps(body),
        content_type=JSON,
        charset="UTF-8",
        headers=headers,
    )


async def read_params(request: web.Request) -> dict[str, str]:
    """Query parameters, overlaid with the body's when it is form-encoded. A body of
    any other type is not read, as on Salesforce (see token_endpoint.py)."""
    params = {key: value for key, value in request.query.items()}
    if request.method == "POST" and request.content_type == FORM:
        form = await request.post()
        params.update({key: value for key, value in form.items() if isinstance(value, str)})
    return params


def basic_credentials(header: str | None) -> tuple[str, str] | None:
    """``Authorization: Basic base64(client_id:client_secret)``, if that is what
    the header holds."""
    if not header:
        return None
    scheme, _, value = header.strip().partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        decoded = base64.b64decode(value.strip(), validate=True).decode()
    except (binascii.Error, UnicodeDecodeError):
        return None
    client_id, sep, client_secret = decoded.partition(":")
    return (client_id, client_secret) if sep else None


def bearer_token(request: web.Request, params: dict[str, str]) -> str | None:
    """The identity service reads the token from ``Authorization: Bearer`` or an
    ``oauth_token`` parameter. [src: help remoteaccess_using_userinfo_endpoint.htm]"""
    header = request.headers.get("Authorization")
    if header:
        scheme, _, token = header.strip().partition(" ")
        return token.strip() if scheme.lower() in ("bearer", "oauth") else header
    return params.get("oauth_token")


class OAuthRoutes:
    def __init__(self, auth: AuthServer) -> None:
        self.auth = auth

    # --- the browser flow -----------------------------------------------------------

    async def authorize(self, realm: Realm, request: web.Request) -> web.StreamResponse:
        params = await read_params(request)
        return self._answer(realm, self.auth.flow.authorize(realm, params, _sid(realm, request)))

    async def login_page(self, realm: Realm, request: web.Request) -> web.StreamResponse:
        start_url = request.query.get("startURL", "")
        page = self.auth.login_form.login_page(realm, start_url, _sid(realm, request))
        return self._answer(realm, page)

    async def login(self, realm: Realm, request: web.Request) -> web.StreamResponse:
        params = await read_params(request)
        return self._answer(realm, self.auth.login_form.login(realm, params, _sid(realm, request)))

    async def approval(self, realm: Realm, request: web.Request) -> web.StreamResponse:
        source = request.query.get("source", "")
        return self._answer(realm, self.auth.flow.approval(realm, source, _sid(realm, request)))

    async def decide(self, realm: Realm, request: web.Request) -> web.StreamResponse:
        params = await read_params(request)
        allow = "save" in params and "cancel" not in params
        outcome = self.auth.flow.decide(
            realm, params.get("source", ""), _sid(realm, request), allow
        )
        return self._answer(realm, outcome)

    async def error_page(self, realm: Realm, request: web.Request) -> web.StreamResponse:
        page = ErrorPage(
            request.query.get("error", ""),
            request.query.get("error_description", ""),
            request.query.get("state"),
        )
        return self._answer(realm, page)

    async def logout(self, realm: Realm, request: web.Request) -> web.StreamResponse:
        return self._answer(realm, self.auth.login_form.logout(realm, _sid(realm, request)))

    def _answer(self, realm: Realm, outcome: Outcome) -> web.Response:
        if isinstance(outcome, Redirect):
            response = web.Response(status=302, headers={"Location": outcome.location})
            response.headers.update(PAGE_HEADERS)
            if outcome.new_session is not None:
                response.set_cookie(
                    realm.cookie_name,
                    outcome.new_session.session_id,
                    path=realm.cookie_path,
                    httponly=True,
                    samesite="Lax",
                )
            if outcome.end_session:
                response.del_cookie(realm.cookie_name, path=realm.cookie_path)
            return response
        if isinstance(outcome, LoginPage):
            html = login_html(outcome)
        elif isinstance(outcome, ApprovalPage):
            html = approval_html(outcome)
        else:
            html = error_html(outcome)
        return web.Response(
            text=html, content_type="text/html", charset="utf-8", headers=PAGE_HEADERS
        )

    # --- the token endpoint and revocation ------------------------------------------

    async def token(self, realm: Realm, request: web.Request) -> web.StreamResponse:
        params = await read_params(request)
        basic = basic_credentials(request.headers.get("Authorization"))
        try:
            body = self.auth.token(realm, params, basic)
        except OAuthError as error:
            return json_response(error.status, error.body, NO_STORE)
        if params.get("format") == "urlencoded":
            # format=urlencoded answers form-encoded. [src: SALESFORCE.md §1 token request]
            return web.Response(
                text=urlencode(body), content_type=FORM, charset="UTF-8", headers=NO_STORE
            )
        return json_response(200, body, NO_STORE)

    async def revoke(self, realm: Realm, request: web.Request) -> web.StreamResponse:
        params = await read_params(request)
        try:
            self.auth.revoke(params.get("token"))
        except RevokeRefused as error:
            return json_response(400, error.body, NO_STORE)
        return web.Response(status=200, headers=NO_STORE)

    # --- the identity service -------------------------------------------------------

    async def userinfo(self, realm: Realm, request: web.Request) -> web.StreamResponse:
        params = await read_params(request)
        try:
            body = self.auth.userinfo(bearer_token(request, params), params.get("version"))
        except IdentityRefused as refused:
            return _refused(refused)
        return json_response(200, body)

    async def identity(self, realm: Realm, request: web.Request) -> web.StreamResponse:
        params = await read_params(request)
        try:
            body = self.auth.identity(
                bearer_token(request, params),
                request.match_info["org_id"],
                request.match_info["user_id"],
                params.get("version"),
            )
        except IdentityRefused as refused:
            return _refused(refused)
        return json_response(200, body)


def _sid(realm: Realm, request: web.Request) -> str | None:
    return request.cookies.get(realm.cookie_name)


def _refused(refused: IdentityRefused) -> web.Response:
    return web.Response(status=refused.status, text=refused.text, content_type="text/plain")
