"""What each OAuth error from Salesforce means for the admin: a table from the
error code (and, for ``invalid_grant``, words of its description) to what to
change in the Connected App.
"""

from __future__ import annotations

# Codes and their meaning: Salesforce Help "OAuth 2.0 Authorization Errors"
# (remoteaccess_oauth_flow_errors.htm), the REST API guide's web server and
# refresh token flow pages, and RFC 6749 §4.1.2.1 / §5.2 for the standard codes.
# The exact error_description wording Salesforce uses is corroborated by public
# client-library fixtures (SALESFORCE.md §1); where a code is standard OAuth but
# not seen verbatim in Salesforce's pages it is marked UNCONFIRMED.

APP_NOT_FOUND = (
    "Salesforce does not know this Client ID (Consumer Key) at this login URL. "
    "Copy it again from the Connected App (Setup > App Manager > View > Manage Consumer "
    "Details). A new or just-edited Connected App takes up to 10 minutes to become usable. "
    "A sandbox's app needs the login URL https://test.salesforce.com, a production or "
    "Developer Edition app https://login.salesforce.com (or the org's My Domain URL)."
)
WRONG_SECRET = (
    "The Client Secret (Consumer Secret) does not match the Client ID. Copy it again from "
    "Manage Consumer Details; if it was rotated, use the new one."
)

OAUTH_ERROR_HINTS: dict[str, str] = {
    "access_denied": (
        "The person signing in clicked Deny, or is not allowed to use the app. Click Connect "
        "again and choose Allow; if the Connected App's Permitted Users is 'Admin approved "
        "users are pre-authorized', add that user's profile or permission set to the app."
    ),
    "redirect_uri_mismatch": (
        "The Connected App's Callback URL must be exactly this plugin's OAuth callback URL "
        "(shown on the settings page): same scheme, host, port and path."
    ),
    "redirect_uri_missing": (
        "No callback URL was sent; the plugin's public URL setting is probably empty."
    ),
    "invalid_client_id": APP_NOT_FOUND,
    "invalid_client": WRONG_SECRET,  # RFC 6749 §5.2 name
    "invalid_client_credentials": WRONG_SECRET,  # Salesforce's own name for it
    "invalid_grant": (
        "Salesforce refused the grant (authorization code or refresh token). Click Connect again."
    ),
    "inactive_user": (
        "The Salesforce user who connected the plugin has been deactivated. Connect again as "
        "an active user (a dedicated integration user is best)."
    ),
    "inactive_org": (
        "The Salesforce org is locked, closed or suspended; its admin must contact Salesforce."
    ),
    "invalid_app_access": (
        "The user is not approved for this Connected App. In the app's Manage > Edit "
        "Policies, set Permitted Users to 'All users may self-authorize', or add the user's "
        "profile or permission set to the app."
    ),
    "unsupported_grant_type": (
        "The Connected App does not allow this flow. Enable OAuth settings with the scopes "
        "full, refresh_token and offline_access; for the client-credentials flow also tick "
        "'Enable Client Credentials Flow' and set a Run As user."
    ),
    "unsupported_response_type": "The authorize request must use response_type=code.",
    "unauthorized_client": (  # RFC 6749 §5.2; UNCONFIRMED in Salesforce's pages
        "The Connected App is not allowed to use this flow: check its OAuth settings."
    ),
    "invalid_request": (
        "Salesforce rejected the request as malformed (for PKCE: the code_verifier does not "
        "match the code_challenge). Click Connect again; if it repeats, report a bug."
    ),
    "invalid_scope": (
        "The Connected App lacks a requested scope. Add full, refresh_token and "
        "offline_access (Perform requests at any time) to its Selected OAuth Scopes."
    ),
    "immediate_unsuccessful": (
        "A silent sign-in was asked for but the user is not logged in or has not approved the "
        "app. Click Connect and sign in."
    ),
    "rate_limit_exceeded": (
        "Too many sign-ins for this user (Salesforce allows 3,600 an hour); wait and try "
        "again. [src: help article 000381578 'Login Rate Exceeded']"
    ),
    "invalid_token": "The token is already revoked or expired.",  # revoke endpoint
    "unsupported_token_type": "The revoke endpoint takes an access or refresh token.",
    "server_error": "Salesforce failed while signing in; try again shortly.",  # RFC 6749
    "temporarily_unavailable": "Salesforce is briefly unavailable; try again shortly.",
}

# invalid_grant covers several situations; its error_description tells them apart.
# [src: help remoteaccess_oauth_flow_errors.htm ("expired access/refresh token");
#  client-library fixtures for the others (SALESFORCE.md §1)]
INVALID_GRANT_HINTS: tuple[tuple[str, str], ...] = (
    (
        "expired access/refresh token",
        "The refresh token was revoked or has expired: someone revoked the app's access "
        "(Connected Apps OAuth Usage, or the user's settings), the Connected App's refresh "
        "token policy expired it, or refresh token rotation already used it. Click Connect "
        "again; to keep the connection, set the refresh token policy to 'Refresh token is "
        "valid until revoked'.",
    ),
    (
        "expired authorization code",
        "The sign-in took too long to come back. Click Connect again.",
    ),
    (
        "invalid authorization code",
        "The sign-in link was already used or is not valid. Click Connect again.",
    ),
    (
        "user hasn't approved this consumer",
        "The user has not approved the app and it is 'Admin approved users are "
        "pre-authorized': add the user's profile or permission set to the Connected App.",
    ),
    (
        "ip restricted",
        "The user's login IP ranges or login hours refuse this host. In the Connected App's "
        "policies set IP Relaxation to 'Relax IP restrictions', or allow the host's IP.",
    ),
    (
        "inactive user",
        "The Salesforce user who connected the plugin has been deactivated. Connect again as "
        "an active user (a dedicated integration user is best).",
    ),
    (
        "authentication failure",
        "Salesforce could not authenticate the user. Click Connect again.",
    ),
    (
        "no client credentials user enabled",
        "The client-credentials flow has no Run As user: set one in the Connected App's policies.",
    ),
)


def hint_for(error: str, description: str = "") -> str:
    """What the admin should do about an OAuth error."""
    if error == "invalid_grant":
        lowered = description.lower()
        for needle, hint in INVALID_GRANT_HINTS:
            if needle in lowered:
                return hint
    return OAUTH_ERROR_HINTS.get(
        error, "Salesforce refused the sign-in; check the Connected App's OAuth settings."
    )
