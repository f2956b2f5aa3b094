"""Connection actions shared by the settings page and ``opencx-salesforce connect``."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from opencx_salesforce.salesforce.errors import NeedsReauthorization
from opencx_salesforce.salesforce.secrets import NAMESPACE, SecretsError
from opencx_salesforce.salesforce.tokens import CONNECTION_KEY, CREDENTIALS_KEY, TokenManager
from opencx_salesforce.store.base import Store
from opencx_salesforce.web.admin.views import SalesforceCleanup

log = logging.getLogger(__name__)


async def has_saved_credentials(store: Store) -> bool:
    """Whether credentials were saved on the page (not only configured in the file)."""
    return await store.get(NAMESPACE, CREDENTIALS_KEY) is not None


@dataclass(frozen=True)
class Disconnected:
    """What Disconnect did. ``revoked``: Salesforce confirmed the revocation.
    ``unreadable``: the stored tokens could not be decrypted with the configured
    key, so they were deleted without being revoked (revoking needs the token)."""

    revoked: bool
    unreadable: bool = False


async def disconnect(tokens: TokenManager, store: Store) -> Disconnected:
    """Revoke the grant at Salesforce, delete it, and forget the Client ID and
    Secret saved on the settings page: a disconnected plugin keeps no credential
    to the org. Credentials from the settings file stay configured.

    With a changed encryption key the stored records cannot be read: they are
    deleted all the same (nobody can use them), and the answer says that nothing
    was revoked at Salesforce."""
    unreadable = bool(await tokens.unreadable_records())
    try:
        revoked = await tokens.disconnect()  # needs the credentials: revoke first
    except (NeedsReauthorization, SecretsError):
        revoked, unreadable = False, True
        log.warning(
            "disconnect: the stored Salesforce tokens cannot be decrypted with the configured "
            "key; deleted without revoking them at Salesforce"
        )
        await store.delete(NAMESPACE, CONNECTION_KEY)
    await store.delete(NAMESPACE, CREDENTIALS_KEY)
    return Disconnected(revoked, unreadable)


def cleanup_lines(cleanup: SalesforceCleanup) -> list[str]:
    """What to delete in Salesforce after disconnecting, as plain text lines."""
    return [
        f"first, stop the digest ({cleanup.stop_digest})",
        f"the triggers {', '.join(cleanup.triggers)}",
        f"the Apex classes {', '.join(cleanup.apex_classes)}",
        f"the Named Credential {cleanup.named_credential} and the External Credential "
        f"{cleanup.external_credential}",
        f"the custom metadata type {cleanup.settings_type} and the permission sets "
        f"{' and '.join(cleanup.permission_sets)} (unassign them first)",
    ]
