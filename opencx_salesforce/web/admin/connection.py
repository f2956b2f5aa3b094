"""Connection actions shared by the settings page and ``opencx-salesforce connect``."""

from __future__ import annotations

from opencx_salesforce.salesforce.secrets import NAMESPACE
from opencx_salesforce.salesforce.tokens import CREDENTIALS_KEY, TokenManager
from opencx_salesforce.store.base import Store
from opencx_salesforce.web.admin.views import SalesforceCleanup


async def has_saved_credentials(store: Store) -> bool:
    """Whether credentials were saved on the page (not only configured in the file)."""
    return await store.get(NAMESPACE, CREDENTIALS_KEY) is not None


async def disconnect(tokens: TokenManager, store: Store) -> bool:
    """Revoke the grant at Salesforce, delete it, and forget the Client ID and
    Secret saved on the settings page: a disconnected plugin keeps no credential
    to the org. Credentials from the settings file stay configured. True when
    Salesforce confirmed the revocation."""
    revoked = await tokens.disconnect()  # needs the credentials: revoke first
    await store.delete(NAMESPACE, CREDENTIALS_KEY)
    return revoked


def cleanup_lines(cleanup: SalesforceCleanup) -> list[str]:
    """What to delete in Salesforce after disconnecting, as plain text lines."""
    return [
        f"the triggers {', '.join(cleanup.triggers)}",
        f"the Apex classes {cleanup.callout_class} and {cleanup.test_class}",
        f"the Named Credential {cleanup.named_credential}",
        f"the custom metadata type {cleanup.settings_type} and the permission set "
        f"{cleanup.permission_set} (unassign it first)",
    ]
