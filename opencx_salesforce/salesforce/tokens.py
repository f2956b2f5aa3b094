"""The plugin's grant to one Salesforce org: connecting, handing out access
tokens, reporting the connection's state, and disconnecting.

Where the grant is kept (encrypted, in the host store) is :mod:`.grant_records`;
how an expired token is refreshed exactly once across callers and instances is
:mod:`.refresh`; how a rotated refresh token survives a failed write is
:mod:`.rotation`.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import replace

from opencx_salesforce.errors import ConfigError
from opencx_salesforce.salesforce.connection import (
    ClientCredentials,
    Connection,
    ConnectionState,
    ConnectionStatus,
    Grant,
)
from opencx_salesforce.salesforce.errors import (
    AuthorizationError,
    NeedsReauthorization,
    NotConnectedYet,
    SalesforceError,
)
from opencx_salesforce.salesforce.grant_records import (
    CREDENTIALS_KEY,
    LOCK_KEY,
    PENDING_PREFIX,
    GrantRecords,
)
from opencx_salesforce.salesforce.oauth import (
    Identity,
    OAuthClient,
    TokenResponse,
    authorization_url,
    new_code_verifier,
    new_state,
)
from opencx_salesforce.salesforce.refresh import NOT_CONNECTED, SingleFlightRefresh
from opencx_salesforce.salesforce.rotation import CONNECTION_KEY, RotationKeeper
from opencx_salesforce.salesforce.secrets import SecretBox, SecretsError
from opencx_salesforce.single_flight import SingleFlight
from opencx_salesforce.store.base import Store

log = logging.getLogger(__name__)

__all__ = [
    "CONNECTION_KEY",
    "CREDENTIALS_KEY",
    "LOCK_KEY",
    "NOT_CONNECTED",
    "PENDING_PREFIX",
    "ClientCredentials",
    "Connection",
    "ConnectionState",
    "ConnectionStatus",
    "Grant",
    "TokenManager",
]


class TokenManager:
    """Holds the grant for one org and hands out access tokens.

    ``credentials`` are the configured ones (from the settings file); ones saved
    on the settings page (:meth:`save_credentials`) take precedence.
    ``lock_ttl`` must outlast one token request (the OAuth client's timeout).
    """

    def __init__(
        self,
        store: Store,
        box: SecretBox,
        oauth: OAuthClient,
        *,
        credentials: ClientCredentials | None = None,
        lock_ttl: float = 45.0,
        wait_timeout: float | None = None,
        poll_interval: float = 0.02,
        pending_ttl: float = 600.0,
        refresh_after: float | None = None,
        clock: Callable[[], float] = time.time,
        on_connected: Callable[[], Awaitable[object]] | None = None,
    ) -> None:
        self._oauth = oauth
        self._pending_ttl = pending_ttl
        self._refresh_after = refresh_after
        self._clock = clock
        # Called after a new grant is stored: the runtime wakes the work that
        # waited for it (without this it would look again only after REAUTH_WAIT).
        self._on_connected = on_connected
        self._records = GrantRecords(store, box, configured=credentials, clock=clock)
        self._reading: SingleFlight[tuple[bytes | None, Connection | None]] = SingleFlight()
        self._refresher = SingleFlightRefresh(
            self._records,
            oauth,
            lock_ttl=lock_ttl,
            wait_timeout=wait_timeout if wait_timeout is not None else lock_ttl + 15.0,
            poll_interval=poll_interval,
            clock=clock,
        )

    @property
    def rotation(self) -> RotationKeeper:
        return self._records.rotation

    @property
    def refreshes(self) -> int:
        """Token requests this instance made to refresh."""
        return self._refresher.refreshes

    # --- credentials ----------------------------------------------------------------

    async def credentials(self) -> ClientCredentials | None:
        return await self._records.credentials()

    async def credentials_saved(self) -> bool:
        """Whether the Client ID and Secret are in the store, where every
        instance finds them, not only in this process's settings."""
        return await self._records.credentials_saved()

    async def save_credentials(self, login_url: str, client_id: str, client_secret: str) -> None:
        """Keep the Client ID and Secret from the settings page (encrypted). A
        different Client ID invalidates the existing connection: its tokens
        belong to the other app."""
        creds = ClientCredentials(login_url.rstrip("/"), client_id.strip(), client_secret.strip())
        await self._records.save_credentials(creds)
        try:
            blob, conn = await self._records.load()
        except NeedsReauthorization:
            return  # unreadable with this key; connecting again replaces it
        if conn is not None and conn.client_id != creds.client_id and not conn.reauth_reason:
            await self._records.mark_reauth(
                blob, conn, "the Client ID changed since the plugin was connected"
            )

    # --- tokens ---------------------------------------------------------------------

    async def access_token(self) -> Connection:
        """The current token set. Raises :class:`NeedsReauthorization` when there
        is none to use."""
        _, conn = await self._load_shared()
        if conn is None:
            raise NotConnectedYet(NOT_CONNECTED)
        if conn.reauth_reason:
            raise NeedsReauthorization(conn.reauth_reason)
        if self._refresh_after and self._clock() - self._issued(conn) > self._refresh_after:
            # Proactive: Salesforce gives no expires_in (the session timeout is
            # the org's setting, two hours by default), so a token older than
            # ``refresh_after`` is renewed before use rather than after a 401.
            # A failure here is not fatal: the reactive path (401 -> refresh)
            # still stands behind it.
            try:
                return await self.refresh(conn.access_token)
            except NeedsReauthorization:
                raise
            except SalesforceError as exc:
                log.warning("proactive token refresh failed, using the current token: %s", exc)
        return conn

    async def _load_shared(self) -> tuple[bytes | None, Connection | None]:
        """The stored grant. Callers that ask while a read is in flight share
        it (every API call asks: under load, one read serves a crowd); what
        they get is as fresh as a read of their own started a moment earlier."""
        return await self._reading.run(self._records.load)

    @staticmethod
    def _issued(conn: Connection) -> float:
        return conn.refreshed_at if conn.refreshed_at is not None else conn.connected_at

    async def refresh(self, stale_token: str | None = None) -> Connection:
        """A token newer than ``stale_token`` (the one Salesforce just refused),
        asked for once however many callers ask (:mod:`.refresh`)."""
        return await self._refresher.refresh(stale_token)

    # --- connecting -----------------------------------------------------------------

    async def start_authorization(
        self, redirect_uri: str, scopes: str | Sequence[str], *, prompt: str | None = None
    ) -> str:
        """The Salesforce URL to send the admin's browser to. ``scopes``: a list
        or one space-separated string. The PKCE verifier waits in the store
        (keyed by ``state``) for :meth:`complete_authorization`."""
        creds = await self._records.credentials()
        if creds is None:
            raise ConfigError(
                "save the Salesforce Client ID, Client Secret and Login URL before connecting"
            )
        state = new_state()
        verifier = new_code_verifier()
        pending = {
            "code_verifier": verifier,
            "redirect_uri": redirect_uri,
            "login_url": creds.login_url,
            "client_id": creds.client_id,
        }
        await self._records.put_pending(state, pending, self._pending_ttl)
        return authorization_url(
            creds.login_url, creds.client_id, redirect_uri, scopes, state, verifier, prompt=prompt
        )

    async def abandon_authorization(self, state: str) -> bool:
        """The sign-in came back with an error (the admin denied access, say):
        its ``state`` is used up, as a successful one's is. Whether a sign-in
        was waiting under it (else the callback is not Salesforce's answer to
        one this host started)."""
        return await self._records.take_pending(state) is not None

    async def complete_authorization(self, code: str, state: str) -> ConnectionStatus:
        """Finish the sign-in the callback reports: check ``state``, trade the
        code for tokens, learn who connected, store it all."""
        pending = await self._records.take_pending(state)
        if pending is None:
            raise AuthorizationError(
                "invalid_state",
                "the sign-in link expired or was already used",
                hint="Click Connect again.",
            )
        creds = await self._records.credentials()
        if creds is None or creds.client_id != pending["client_id"]:
            raise AuthorizationError(
                "invalid_state",
                "the Client ID changed during the sign-in",
                hint="Click Connect again.",
            )
        answer = await self._oauth.exchange_code(
            creds.login_url,
            creds.client_id,
            creds.client_secret,
            code,
            pending["redirect_uri"],
            pending["code_verifier"],
        )
        await self.store_tokens(answer, grant=Grant.AUTHORIZATION_CODE, client_id=creds.client_id)
        return await self.status()

    async def connect_client_credentials(self) -> ConnectionStatus:
        """Connect as the Connected App's Run As user (client-credentials flow),
        for server-to-server setups where no admin signs in."""
        creds = await self._records.credentials()
        if creds is None:
            raise ConfigError("save the Salesforce Client ID, Client Secret and Login URL first")
        answer = await self._oauth.client_credentials(
            creds.login_url, creds.client_id, creds.client_secret
        )
        await self.store_tokens(answer, grant=Grant.CLIENT_CREDENTIALS, client_id=creds.client_id)
        return await self.status()

    async def store_tokens(
        self, answer: TokenResponse, *, grant: Grant, client_id: str
    ) -> Connection:
        """Store a fresh grant (replacing any previous one and its
        needs-reauthorization mark), with the identity of who granted it."""
        who = await self._identity(answer)
        conn = Connection(
            access_token=answer.access_token,
            instance_url=answer.instance_url,
            refresh_token=answer.refresh_token,
            grant=grant,
            client_id=client_id,
            id_url=answer.id_url,
            user_id=who.user_id,
            org_id=who.org_id,
            username=who.username,
            display_name=who.display_name,
            connected_at=self._clock(),
            issued_at=answer.issued_at,
            scope=answer.scope,
        )
        await self._records.put(conn)
        log.info("Salesforce connected: org %s as %s", conn.org_id, conn.username or conn.user_id)
        if self._on_connected is not None:
            try:
                await self._on_connected()
            except Exception:  # the grant is stored; waiting work still retries later
                log.exception("could not wake the work waiting for the connection")
        return conn

    async def _identity(self, answer: TokenResponse) -> Identity:
        if not answer.id_url:
            return Identity(user_id="", org_id="")
        try:
            return await self._oauth.identity(answer.id_url, answer.access_token)
        except SalesforceError as exc:
            log.warning("could not read the Salesforce identity (%s); using the Ids only", exc)
            return Identity.from_id_url(answer.id_url)

    async def disconnect(self) -> bool:
        """Revoke the grant at Salesforce and forget it. Cases in Salesforce stay.
        True if Salesforce confirmed the revocation; the local tokens are deleted
        either way."""
        _, conn = await self._records.load()
        revoked = False
        if conn is not None:
            creds = await self._records.credentials()
            token = conn.refresh_token or conn.access_token
            # The org's My Domain takes revocations too [src: mobile-sdk
            # oauth-revoking-tokens.html "https://{MyDomainName}.my.salesforce.com
            # /services/oauth2/revoke"]: a grant made where the credentials were
            # only in another process's environment (`connect` with client
            # credentials) is revoked there, not left alive.
            where = creds.login_url if creds is not None else conn.instance_url
            try:
                await self._oauth.revoke(where, token)
                revoked = True
            except SalesforceError as exc:
                log.warning("could not revoke the Salesforce token (%s); deleting it", exc)
        await self._records.forget()
        return revoked

    # --- status ---------------------------------------------------------------------

    async def status(self) -> ConnectionStatus:
        try:
            creds = await self._records.credentials()
        except SecretsError as exc:
            return ConnectionStatus(state=ConnectionState.NEEDS_REAUTHORIZATION, reason=str(exc))
        base = ConnectionStatus(
            state=ConnectionState.NOT_CONFIGURED,
            login_url=creds.login_url if creds else None,
            client_id=creds.client_id if creds else None,
        )
        try:
            _, conn = await self._records.load()
        except NeedsReauthorization as exc:
            return replace(base, state=ConnectionState.NEEDS_REAUTHORIZATION, reason=exc.reason)
        if conn is None:
            state = ConnectionState.CREDENTIALS_SAVED if creds else ConnectionState.NOT_CONFIGURED
            return replace(base, state=state)
        return replace(
            base,
            state=(
                ConnectionState.NEEDS_REAUTHORIZATION
                if conn.reauth_reason
                else ConnectionState.CONNECTED
            ),
            username=conn.username,
            display_name=conn.display_name,
            org_id=conn.org_id,
            user_id=conn.user_id,
            instance_url=conn.instance_url,
            connected_at=conn.connected_at,
            reason=conn.reauth_reason,
            since=conn.reauth_since,
        )

    async def unreadable_records(self) -> list[str]:
        """The stored records (``auth/credentials``, ``auth/connection``) the
        configured key cannot decrypt: the key changed, or the data is damaged.
        The settings page explains this instead of failing."""
        return await self._records.unreadable()
