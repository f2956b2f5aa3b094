"""What the authorization server answers when it says no.

::

    OAuthError          token endpoint: HTTP 400 {"error", "error_description"}
    InvalidSession      data API: HTTP 401 [{"message", "errorCode"}] + WWW-Authenticate
    IdentityRefused     identity URL and UserInfo: a status and one word of plain text
    RevokeRefused       revoke endpoint: HTTP 400 {"error"}

Each carries exactly what goes on the wire, so the routes only copy it out.
"""

from __future__ import annotations

from typing import Any

# [src: help.salesforce.com remoteaccess_oauth_flow_errors.htm: token errors are
# "HTTP/1.1 400 Bad Request, Content-Type: application/json, Cache-Control: no-store"]
NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}


class OAuthError(Exception):
    """A token-endpoint refusal: ``{"error": ..., "error_description": ...}``."""

    def __init__(self, error: str, description: str, status: int = 400) -> None:
        super().__init__(f"{error}: {description}")
        self.error = error
        self.description = description
        self.status = status

    @property
    def body(self) -> dict[str, str]:
        return {"error": self.error, "error_description": self.description}


class InvalidSession(Exception):
    """The data API's 401 for a token it does not accept.

    ``body`` is the documented JSON array, ``headers`` carries
    ``WWW-Authenticate: Token`` as recorded from real orgs. [src: SALESFORCE.md §1;
    api_rest intro_understanding_refresh_token_oauth.htm "Session expired or invalid"]
    """

    status = 401

    def __init__(self, error_code: str, message: str) -> None:
        super().__init__(f"{error_code}: {message}")
        self.error_code = error_code
        self.message = message
        self.headers = {"WWW-Authenticate": "Token"}

    @property
    def body(self) -> list[dict[str, Any]]:
        return [{"message": self.message, "errorCode": self.error_code}]

    @classmethod
    def expired(cls) -> InvalidSession:
        return cls("INVALID_SESSION_ID", "Session expired or invalid")

    @classmethod
    def not_for_rest(cls) -> InvalidSession:
        # A session whose scopes do not include the API. Recorded from a real org:
        # [src: jsforce/jsforce pull 1301, 401 body
        # [{"message":"This session is not valid for use with the REST API",
        #   "errorCode":"INVALID_SESSION_ID"}]]
        return cls("INVALID_SESSION_ID", "This session is not valid for use with the REST API")

    @classmethod
    def bad_header(cls) -> InvalidSession:
        # An Authorization header that is not "Bearer <token>" / "OAuth <token>".
        # Recorded: [{"message":"INVALID_HEADER_TYPE","errorCode":"INVALID_AUTH_HEADER"}]
        # [src: restforce/restforce issue 811 "INVALID_AUTH_HEADER: INVALID_HEADER_TYPE";
        # Salesforce's sf-functions-python client lists the same body]
        return cls("INVALID_AUTH_HEADER", "INVALID_HEADER_TYPE")


class IdentityRefused(Exception):
    """The identity service's refusal: a 403/404 with one word of plain text.

    ``Bad_OAuth_Token`` (403) is recorded from real orgs [src: drupal.org salesforce
    issue 3191597 "POST https://login.salesforce.com/id/... resulted in a 403
    Forbidden response: Bad_OAuth_Token"]; the other words follow the identity URL
    page's error list [src: mobile_sdk oauth-using-identity-urls.html; UNCONFIRMED
    verbatim: Missing_OAuth_Token, Wrong_Org, Bad_Id, Inactive, Invalid_Version].
    """

    def __init__(self, status: int, text: str) -> None:
        super().__init__(f"{status} {text}")
        self.status = status
        self.text = text


class RevokeRefused(Exception):
    """The revoke endpoint's 400: ``{"error": "invalid_token"}`` or
    ``{"error": "unsupported_token_type"}``. [src: mobile-sdk oauth-revoking-tokens.html;
    developer.salesforce.com blogs 2011/11 revoking-oauth-2-0-access-tokens-and-refresh-tokens]"""

    def __init__(self, error: str) -> None:
        super().__init__(error)
        self.error = error

    @property
    def body(self) -> dict[str, str]:
        return {"error": self.error}
