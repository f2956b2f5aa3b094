"""Talking to Salesforce: OAuth (:mod:`.oauth`), the stored grant and its single
flight refresh (:mod:`.tokens`), the REST client (:mod:`.client`), secrets at
rest (:mod:`.secrets`), and every error they raise (:mod:`.errors`).

Typical wiring::

    box = await SecretBox.from_settings(settings.encryption_key, store=store,
                                        dev_mode=settings.dev_mode)
    oauth = OAuthClient(session)
    tokens = TokenManager(store, box, oauth, credentials=configured_credentials)
    client = SalesforceClient(tokens, api_version=settings.api_version, session=session)
    case_id = await client.create("Case", {"Subject": "Help"})
"""

from opencx_salesforce.salesforce.client import (
    Response,
    SalesforceClient,
    SaveResult,
    UpsertResult,
)
from opencx_salesforce.salesforce.errors import (
    ApiError,
    AuthorizationError,
    ErrorDetail,
    Forbidden,
    MultipleMatches,
    NeedsReauthorization,
    NotConnectedYet,
    NotFound,
    RefreshTimedOut,
    RequestLimitExceeded,
    RowLocked,
    SalesforceError,
    ServerError,
    SessionExpired,
    TransportError,
    Unauthorized,
    Unavailable,
    ValidationFailed,
)
from opencx_salesforce.salesforce.oauth import (
    CredentialCheck,
    CredentialCheckOutcome,
    Identity,
    OAuthClient,
    TokenResponse,
    authorization_url,
    callback_error,
)
from opencx_salesforce.salesforce.oauth_hints import OAUTH_ERROR_HINTS, hint_for
from opencx_salesforce.salesforce.secrets import SecretBox, SecretsError, generate_key, mask
from opencx_salesforce.salesforce.subrequests import Graph, GraphResult, Subrequest, SubResponse
from opencx_salesforce.salesforce.tokens import (
    ClientCredentials,
    Connection,
    ConnectionState,
    ConnectionStatus,
    Grant,
    TokenManager,
)
from opencx_salesforce.salesforce.usage import ApiUsage, parse_limit_info

__all__ = [
    "OAUTH_ERROR_HINTS",
    "ApiError",
    "ApiUsage",
    "AuthorizationError",
    "ClientCredentials",
    "Connection",
    "ConnectionState",
    "ConnectionStatus",
    "CredentialCheck",
    "CredentialCheckOutcome",
    "ErrorDetail",
    "Forbidden",
    "Grant",
    "Graph",
    "GraphResult",
    "Identity",
    "MultipleMatches",
    "NeedsReauthorization",
    "NotConnectedYet",
    "NotFound",
    "OAuthClient",
    "RefreshTimedOut",
    "RequestLimitExceeded",
    "Response",
    "RowLocked",
    "SalesforceClient",
    "SalesforceError",
    "SaveResult",
    "SecretBox",
    "SecretsError",
    "ServerError",
    "SessionExpired",
    "SubResponse",
    "Subrequest",
    "TokenManager",
    "TokenResponse",
    "TransportError",
    "Unauthorized",
    "Unavailable",
    "UpsertResult",
    "ValidationFailed",
    "authorization_url",
    "callback_error",
    "generate_key",
    "hint_for",
    "mask",
    "parse_limit_info",
]
