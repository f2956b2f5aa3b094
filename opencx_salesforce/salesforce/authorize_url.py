"""Where the admin's browser goes to approve the plugin: the authorize URL of
Salesforce's web server flow with PKCE, and the OAuth endpoints' paths.

Endpoints live under the login URL (``https://login.salesforce.com``,
``https://test.salesforce.com`` for sandboxes, or the org's My Domain).
[src: api_rest intro_understanding_web_server_oauth_flow.htm;
help remoteaccess_oauth_web_server_flow.htm] URL building and PKCE come from
authlib's RFC helpers. Pure: no I/O.
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence

from authlib.common.security import generate_token
from authlib.oauth2.rfc6749.parameters import prepare_grant_uri
from authlib.oauth2.rfc7636 import create_s256_code_challenge

AUTHORIZE_PATH = "/services/oauth2/authorize"
TOKEN_PATH = "/services/oauth2/token"
REVOKE_PATH = "/services/oauth2/revoke"
USERINFO_PATH = "/services/oauth2/userinfo"


def endpoint(login_url: str, path: str) -> str:
    return login_url.rstrip("/") + path


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
            endpoint(login_url, AUTHORIZE_PATH),
            client_id,
            "code",
            redirect_uri=redirect_uri,
            scope=scopes if isinstance(scopes, str) else " ".join(scopes),
            state=state,
            **extra,
        )
    )
