"""What Salesforce's OAuth endpoints answer: a token set, who connected, or an
OAuth error with what the admin should change in the Connected App
(:mod:`.oauth_hints`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from opencx_salesforce.salesforce._http import RawResponse
from opencx_salesforce.salesforce.errors import (
    AuthorizationError,
    SalesforceError,
    error_for_response,
)
from opencx_salesforce.salesforce.oauth_hints import hint_for


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


def callback_error(error: str, description: str = "") -> AuthorizationError:
    """The error a callback URL carried (``?error=…&error_description=…``), with
    its hint. Salesforce's own web server flow example spells the denial
    ``access-denied`` (hyphen) where the user-agent flow says ``access_denied``;
    both mean the same. [src: help remoteaccess_oauth_flow_errors.htm]"""
    code = error.strip().replace("-", "_")
    return AuthorizationError(code, description, hint=hint_for(code, description))


def oauth_error(raw: RawResponse) -> SalesforceError:
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
