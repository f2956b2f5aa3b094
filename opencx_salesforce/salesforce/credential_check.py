"""Whether a Client ID and Secret are right, before any user signs in: one
token request with a code Salesforce never issued, read by which error comes back.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

import aiohttp

from opencx_salesforce.salesforce._http import send
from opencx_salesforce.salesforce.authorize_url import TOKEN_PATH, endpoint
from opencx_salesforce.salesforce.errors import AuthorizationError, TransportError
from opencx_salesforce.salesforce.oauth_answers import oauth_error
from opencx_salesforce.salesforce.oauth_hints import APP_NOT_FOUND, WRONG_SECRET


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


async def check_client_credentials(
    http: aiohttp.ClientSession,
    timeout: aiohttp.ClientTimeout,
    login_url: str,
    client_id: str,
    client_secret: str,
    redirect_uri: str,
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
    url = endpoint(login_url, TOKEN_PATH)
    try:
        raw = await send(http, "POST", url, timeout=timeout, data=form)
    except TransportError as exc:
        return CredentialCheck(
            CredentialCheckOutcome.UNREACHABLE,
            f"Could not reach {login_url}: {exc.message}. Check the login URL.",
        )
    if raw.status == 200:
        # A real org never accepts a made-up code; something is off.
        return CredentialCheck(
            CredentialCheckOutcome.UNEXPECTED,
            f"{login_url} accepted a made-up authorization code; is this a Salesforce login URL?",
        )
    error = oauth_error(raw)
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
