"""The emulator's OAuth 2.0 side: the login host (login page, "Allow Access?"),
the token, revoke, UserInfo and identity endpoints, and the check the data API
makes on every bearer token.

``server.AuthServer`` holds the logic; ``routes.add_oauth_routes`` puts it on HTTP.
"""

from opencx_salesforce.emulator.oauth.errors import InvalidSession, OAuthError
from opencx_salesforce.emulator.oauth.realms import Realm
from opencx_salesforce.emulator.oauth.server import AuthServer, Principal

__all__ = ["AuthServer", "InvalidSession", "OAuthError", "Principal", "Realm"]
