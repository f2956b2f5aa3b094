"""The grant's records in the host store, encrypted, and the in-memory copy of
the last one read.

Everything lives under the ``salesforce`` namespace, encrypted with
:class:`~opencx_salesforce.salesforce.secrets.SecretBox`:

``auth/credentials``    login URL, Client ID, Client Secret (from the settings page)
``auth/connection``     the token set, who connected, and a needs-reauthorization
                        mark; rewritten with compare-and-set so a rotated refresh
                        token is never lost to a concurrent write, and kept in
                        memory and retried until it lands (:mod:`.rotation`)
``auth/refresh-lock``   held (with a TTL) by the one instance refreshing now
                        (:mod:`.refresh`)
``auth/pending/<state>`` the PKCE verifier of a sign-in in progress (10 minutes)
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import replace
from typing import Any

from opencx_salesforce.salesforce.connection import ClientCredentials, Connection
from opencx_salesforce.salesforce.errors import NeedsReauthorization
from opencx_salesforce.salesforce.rotation import CONNECTION_KEY, RotationKeeper
from opencx_salesforce.salesforce.secrets import NAMESPACE, SecretBox, SecretsError
from opencx_salesforce.store.base import Store

CREDENTIALS_KEY = "auth/credentials"
LOCK_KEY = "auth/refresh-lock"
PENDING_PREFIX = "auth/pending/"


class GrantRecords:
    """Reads and writes the encrypted grant records of one org.

    ``configured`` credentials (from the settings file) are used until ones are
    saved on the settings page.
    """

    def __init__(
        self,
        store: Store,
        box: SecretBox,
        *,
        configured: ClientCredentials | None,
        clock: Callable[[], float],
    ) -> None:
        self.store = store
        self._box = box
        self._configured = configured
        self._clock = clock
        self.cache: tuple[bytes, Connection] | None = None
        self.rotation = RotationKeeper(
            store, lambda conn: self.encrypt_json(conn.to_json()), self.load_stored
        )

    # --- credentials ----------------------------------------------------------------

    async def credentials(self) -> ClientCredentials | None:
        blob = await self.store.get(NAMESPACE, CREDENTIALS_KEY)
        if blob is None:
            return self._configured
        return ClientCredentials.from_json(self.decrypt_json(blob))

    async def credentials_saved(self) -> bool:
        """Whether the credentials are in the store (saved on the page), not
        only in this process's settings."""
        return await self.store.get(NAMESPACE, CREDENTIALS_KEY) is not None

    async def save_credentials(self, creds: ClientCredentials) -> None:
        await self.store.set(NAMESPACE, CREDENTIALS_KEY, self.encrypt_json(creds.to_json()))

    # --- the connection -------------------------------------------------------------

    async def load(self) -> tuple[bytes | None, Connection | None]:
        """The connection as this instance knows it: the stored record, unless
        a rotated refresh token is kept in memory until the store has it."""
        blob, conn = await self.load_stored()
        fresh = self.rotation.overlay(blob, conn)
        return (blob, fresh) if fresh is not None else (blob, conn)

    async def load_stored(self) -> tuple[bytes | None, Connection | None]:
        blob = await self.store.get(NAMESPACE, CONNECTION_KEY)
        if blob is None:
            return None, None
        cached = self.cache
        if cached is not None and cached[0] == blob:
            return blob, cached[1]  # unchanged since we last decrypted it
        try:
            data = self.decrypt_json(blob)
        except SecretsError as exc:
            # A changed key is fixed by an admin (old key back, or connect again);
            # until then queued work waits rather than failing for good.
            raise NeedsReauthorization(str(exc)) from None
        conn = Connection.from_json(data)
        self.cache = (blob, conn)
        return blob, conn

    async def replace(self, blob: bytes, conn: Connection) -> bool:
        """Write ``conn`` over the record ``blob`` (compare-and-set); False if
        the record changed meanwhile."""
        new_blob = self.encrypt_json(conn.to_json())
        if await self.store.compare_and_set(NAMESPACE, CONNECTION_KEY, blob, new_blob):
            self.cache = (new_blob, conn)
            return True
        return False

    async def put(self, conn: Connection) -> None:
        """Store a new grant, replacing any previous one."""
        blob = self.encrypt_json(conn.to_json())
        await self.store.set(NAMESPACE, CONNECTION_KEY, blob)
        self.rotation.pending = None  # a new grant supersedes any unsaved rotation
        self.cache = (blob, conn)

    async def forget(self) -> None:
        await self.store.delete(NAMESPACE, CONNECTION_KEY)
        self.rotation.pending = None
        self.cache = None

    async def mark_reauth(self, blob: bytes | None, conn: Connection | None, reason: str) -> bool:
        if blob is None or conn is None:
            return False
        marked = replace(conn, reauth_reason=reason, reauth_since=self._clock())
        return await self.replace(blob, marked)

    async def unreadable(self) -> list[str]:
        """The stored records the configured key cannot decrypt."""
        unreadable = []
        for key in (CREDENTIALS_KEY, CONNECTION_KEY):
            blob = await self.store.get(NAMESPACE, key)
            if blob is None:
                continue
            try:
                self.decrypt_json(blob)
            except (SecretsError, ValueError):
                unreadable.append(key)
        return unreadable

    # --- sign-ins in progress -------------------------------------------------------

    async def put_pending(self, state: str, pending: dict[str, Any], ttl: float) -> None:
        await self.store.set(NAMESPACE, PENDING_PREFIX + state, self.encrypt_json(pending), ttl=ttl)

    async def take_pending(self, state: str) -> dict[str, Any] | None:
        """The sign-in started with ``state``, deleted as it is read: a state is
        good for one callback only."""
        key = PENDING_PREFIX + state
        blob = await self.store.get(NAMESPACE, key)
        if blob is None or not await self.store.compare_and_set(NAMESPACE, key, blob, None):
            return None
        return self.decrypt_json(blob)

    # --- encryption -----------------------------------------------------------------

    def encrypt_json(self, data: dict[str, Any]) -> bytes:
        return self._box.encrypt(json.dumps(data, separators=(",", ":")).encode())

    def decrypt_json(self, blob: bytes) -> dict[str, Any]:
        data = json.loads(self._box.decrypt(blob))
        if not isinstance(data, dict):
            raise SecretsError("a stored Salesforce record is damaged (not a JSON object)")
        return data
