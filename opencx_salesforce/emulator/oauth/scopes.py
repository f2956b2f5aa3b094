"""OAuth scopes: which a request may ask for, which open the data API, which
bring a refresh token, and how the approval page names them.
[src: help.salesforce.com remoteaccess_oauth_tokens_scopes.htm "OAuth Tokens and Scopes"]
"""

from __future__ import annotations

from collections.abc import Sequence

# "api" opens the REST API; "full" includes every scope except the two below.
API_SCOPES = frozenset({"api", "full"})
# "Allows a refresh token to be returned".
REFRESH_SCOPES = frozenset({"refresh_token", "offline_access"})

# The wording the "Allow Access?" page uses for each scope.
LABELS: dict[str, str] = {
    "api": "Manage user data via APIs",
    "full": "Full access",
    "refresh_token": "Perform requests at any time",
    "offline_access": "Perform requests at any time",
    "id": "Access the identity URL service",
    "profile": "Access the identity URL service",
    "email": "Access the identity URL service",
    "address": "Access the identity URL service",
    "phone": "Access the identity URL service",
    "openid": "Access unique user identifiers",
    "web": "Manage user data via Web browsers",
    "chatter_api": "Access Connect REST API resources",
    "visualforce": "Access Visualforce applications",
    "custom_permissions": "Access custom permissions",
    # [src: developer.salesforce.com/docs/ai/agentforce/guide/models-api-authentication.md]
    "sfap_api": "Access the Salesforce API Platform",
}

# The scope that opens the Salesforce API Platform (api.salesforce.com).
SFAP_SCOPE = "sfap_api"


def granted_scopes(requested: str | None, app_scopes: Sequence[str]) -> tuple[str, ...] | None:
    """The scopes an authorize request is granted, or None if it asks for one the
    Connected App does not allow. No ``scope`` parameter grants the app's scopes."""
    if not requested or not requested.strip():
        return tuple(app_scopes)
    asked = tuple(dict.fromkeys(requested.split()))
    for scope in asked:
        covered_by_full = "full" in app_scopes and scope not in REFRESH_SCOPES
        if scope not in app_scopes and not covered_by_full:
            return None
    return asked


def labelled(scopes: Sequence[str]) -> list[tuple[str, str]]:
    """(label, scope names) rows for the approval page, one row per label."""
    rows: dict[str, list[str]] = {}
    for scope in scopes:
        rows.setdefault(LABELS.get(scope, scope), []).append(scope)
    return [(label, ", ".join(names)) for label, names in rows.items()]
