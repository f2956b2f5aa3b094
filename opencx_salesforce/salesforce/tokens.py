"""The plugin's grant to one Salesforce org: saved credentials, the stored token
set, and refreshing it exactly once however many callers find it expired.

Everything lives in the host store under the ``salesforce`` namespace, encrypted
with :class:`~opencx_salesforce.salesforce.secrets.SecretBox`:

``auth/credentials``    login URL, Client ID, Client Secret (from the settings page)
``auth/connection``     the token set, who connected, and a needs-reauthorization
                        mark; rewritten with compare-and-set so a rotated refresh
                        token is never lost to a concurrent write, and kept in
                        memory and retried until it lands (:mod:`.rotation`)
``auth/refresh-lock``   held (with a TTL) by the one instance refreshing now
``auth/pending/<state>`` the PKCE verifier of a sign-in in progress (10 minutes)

Single flight. An access token has no announced lifetime: Salesforce answers 401
INVALID_SESSION_ID when it expired [src: api_meta meta_error_handling_session_exp.htm],
and every request in flight at that moment sees it. :meth:`TokenManager.refresh`
turns all of them into one token request:

* within a process, callers share one asyncio task;
* across host instances sharing a store, the task first takes ``auth/refresh-lock``
  with ``set_if_absent`` and a TTL; the others poll until the stored access token
  differs from the one they saw expire, and use it. A holder that crashed loses
  the lock when its TTL runs out, and the next poller takes over.

A refresh refused with ``invalid_grant`` (revoked, expired, already rotated) or a
client error (the app was deleted, the secret rotated) marks the connection
``needs_reauthorization`` with the reason and raises
:class:`~opencx_salesforce.salesforce.errors.NeedsReauthorization`, which the
outbox treats as "wait": queued work is kept until an admin connects again.
"""

from __future__ import annotations

import asyncio
import json
import logging
import secrets
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import replace
from typing import Any

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
    RefreshTimedOut,
    SalesforceError,
)
from opencx_salesforce.salesforce.oauth import (
    Identity,
    OAuthClient,
    TokenResponse,
    authorization_url,
    new_code_verifier,
    new_state,
)
from opencx_salesforce.salesforce.rotation import CONNECTION_KEY, RotationKeeper, Saved
from opencx_salesforce.salesforce.secrets import NAMESPACE, SecretBox, SecretsError
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

CREDENTIALS_KEY = "auth/credentials"
LOCK_KEY = "auth/refresh-lock"
PENDING_PREFIX = "auth/pending/"

NOT_CONNECTED = (
    "the plugin is not connected to Salesforce yet: an admin must click Connect on the "
    "settings page"
)


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
        self._store = store
        self._box = box
        self._oauth = oauth
        self._configured = credentials
        self._lock_ttl = lock_ttl
        self._wait_timeout = wait_timeout if wait_timeout is not None else lock_ttl + 15.0
        self._poll_interval = poll_interval
        self._pending_ttl = pending_ttl
        self._refresh_after = refresh_after
        self._clock = clock
        # Called after a new grant is stored: the runtime wakes the work that
        # waited for it (without this it would look again only after REAUTH_WAIT).
        self._on_connected = on_connected
        self._inflight: asyncio.Task[Connection] | None = None
        self._cache: tuple[bytes, Connection] | None = None
        self.rotation = RotationKeeper(
            store, lambda conn: self._encrypt_json(conn.to_json()), self._load_stored
        )
        self.refreshes = 0  # token requests this instance made to refresh

    # --- credentials ----------------------------------------------------------------

    async def credentials(self) -> ClientCredentials | None:
        blob = await self._store.get(NAMESPACE, CREDENTIALS_KEY)
        if blob is None:
            return self._configured
        return ClientCredentials.from_json(self._decrypt_json(blob))

    async def save_credentials(self, login_url: str, client_id: str, client_secret: str) -> None:
        """Keep the Client ID and Secret from the settings page (encrypted). A
        different Client ID invalidates the existing connection: its tokens
        belong to the other app."""
        creds = ClientCredentials(login_url.rstrip("/"), client_id.strip(), client_secret.strip())
        await self._store.set(NAMESPACE, CREDENTIALS_KEY, self._encrypt_json(creds.to_json()))
        try:
            blob, conn = await self._load()
        except NeedsReauthorization:
            return  # unreadable with this key; connecting again replaces it
        if conn is not None and conn.client_id != creds.client_id and not conn.reauth_reason:
            await self._mark_reauth(
                blob, conn, "the Client ID changed since the plugin was connected"
            )

    # --- tokens ---------------------------------------------------------------------

    async def access_token(self) -> Connection:
        """The current token set. Raises :class:`NeedsReauthorization` when there
        is none to use."""
        _, conn = await self._load()
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

    @staticmethod
    def _issued(conn: Connection) -> float:
        return conn.refreshed_at if conn.refreshed_at is not None else conn.connected_at

    async def refresh(self, stale_token: str | None = None) -> Connection:
        """A token newer than ``stale_token`` (the one Salesforce just refused).

        Single flight: concurrent callers share one refresh, in this process and
        across instances. If someone already replaced ``stale_token``, the stored
        token is returned without asking Salesforce. ``None`` forces a refresh.
        """
        task = self._inflight
        if task is None or task.done():
            task = asyncio.get_running_loop().create_task(self._refresh_shared(stale_token))
            self._inflight = task
            task.add_done_callback(self._forget_task)
        # shield: one caller giving up (cancelled) must not cancel the others' refresh.
        return await asyncio.shield(task)

    def _forget_task(self, task: asyncio.Task[Connection]) -> None:
        if self._inflight is task:
            self._inflight = None
        if not task.cancelled():
            task.exception()  # retrieved here so an unawaited failure is not reported twice

    async def _refresh_shared(self, stale: str | None) -> Connection:
        deadline = self._clock() + self._wait_timeout
        delay = self._poll_interval
        while True:
            _, conn = await self._load()
            settled = self._settled(conn, stale)
            if settled is not None:
                return settled
            holder = secrets.token_hex(8)
            if await self._store.set_if_absent(
                NAMESPACE, LOCK_KEY, holder.encode(), ttl=self._lock_ttl
            ):
                try:
                    return await self._refresh_locked(stale)
                finally:
                    # Only our own lock: if it expired and someone else holds it now,
                    # compare-and-set leaves theirs alone.
                    await self._store.compare_and_set(NAMESPACE, LOCK_KEY, holder.encode(), None)
            if self._clock() >= deadline:
                raise RefreshTimedOut(
                    "another host instance is refreshing the Salesforce token and has not "
                    f"finished within {self._wait_timeout:.0f} s",
                    retry_after=1.0,
                )
            await asyncio.sleep(delay)
            delay = min(delay * 2, 0.2)

    def _settled(self, conn: Connection | None, stale: str | None) -> Connection | None:
        """The stored token if nobody needs to ask Salesforce for a new one;
        raises when asking cannot help."""
        if conn is None:
            raise NotConnectedYet(NOT_CONNECTED)
        if conn.reauth_reason:
            raise NeedsReauthorization(conn.reauth_reason)
        if stale is not None and conn.access_token != stale:
            return conn  # already refreshed, here or by another instance
        return None

    async def _refresh_locked(self, stale: str | None) -> Connection:
        # Re-read under the lock: the previous holder may have finished just now.
        blob, conn = await self._load()
        settled = self._settled(conn, stale)
        if settled is not None:
            return settled
        assert conn is not None and blob is not None  # _settled raised otherwise
        creds = await self.credentials()
        if creds is None:
            raise NeedsReauthorization("the Client ID and Client Secret are not saved")
        self.refreshes += 1
        try:
            if conn.refresh_token:
                answer = await self._oauth.refresh(
                    creds.login_url, creds.client_id, creds.client_secret, conn.refresh_token
                )
            elif conn.grant is Grant.CLIENT_CREDENTIALS:
                answer = await self._oauth.client_credentials(
                    creds.login_url, creds.client_id, creds.client_secret
                )
            else:
                reason = (
                    "Salesforce issued no refresh token: add the refresh_token and "
                    "offline_access scopes to the Connected App, then connect again"
                )
                return await self._give_up(blob, conn, stale, reason)
        except AuthorizationError as exc:
            if exc.is_retryable:
                raise
            reason = f"{exc.description or exc.error} ({exc.error}). {exc.hint}"
            return await self._give_up(blob, conn, stale, reason)
        fresh = replace(
            conn,
            access_token=answer.access_token,
            instance_url=answer.instance_url,
            # Rotation: a new refresh token replaces the old, which is now dead.
            # [src: help remoteaccess_oauth_refresh_token_flow.htm]
            refresh_token=answer.refresh_token or conn.refresh_token,
            issued_at=answer.issued_at,
            scope=answer.scope or conn.scope,
            refreshed_at=self._clock(),
        )
        if answer.refresh_token and answer.refresh_token != conn.refresh_token:
            # The old refresh token is dead now: this record is the only copy
            # of the new one until the store has it.
            saved = await self.rotation.save(blob, conn, fresh)
            if saved is not Saved.SUPERSEDED:
                log.info(
                    "Salesforce access token refreshed for org %s (new refresh token %s)",
                    fresh.org_id,
                    "stored" if saved is Saved.LANDED else "kept in memory until stored",
                )
                return fresh
        else:
            new_blob = self._encrypt_json(fresh.to_json())
            if await self._store.compare_and_set(NAMESPACE, CONNECTION_KEY, blob, new_blob):
                self._cache = (new_blob, fresh)
                log.info("Salesforce access token refreshed for org %s", fresh.org_id)
                return fresh
        # The record changed while we asked (an admin reconnected or disconnected):
        # that write is newer than our refresh, so it wins.
        log.warning("Salesforce connection changed during a token refresh; using the stored one")
        _, latest = await self._load()
        if latest is None:
            raise NotConnectedYet(NOT_CONNECTED)
        if latest.reauth_reason:
            raise NeedsReauthorization(latest.reauth_reason)
        return latest

    async def _give_up(
        self, blob: bytes, conn: Connection, stale: str | None, reason: str
    ) -> Connection:
        """Mark the connection as needing an admin, unless it changed meanwhile
        (another instance refreshed with a rotated token, or an admin
        reconnected), in which case the newer record is the answer."""
        if await self._mark_reauth(blob, conn, reason):
            log.warning("Salesforce needs to be connected again: %s", reason)
            raise NeedsReauthorization(reason)
        _, latest = await self._load()
        settled = self._settled(latest, stale)
        if settled is not None:
            return settled
        raise NeedsReauthorization(reason)

    async def _mark_reauth(self, blob: bytes | None, conn: Connection | None, reason: str) -> bool:
        if blob is None or conn is None:
            return False
        marked = replace(conn, reauth_reason=reason, reauth_since=self._clock())
        new_blob = self._encrypt_json(marked.to_json())
        if await self._store.compare_and_set(NAMESPACE, CONNECTION_KEY, blob, new_blob):
            self._cache = (new_blob, marked)
            return True
        return False

    # --- connecting -----------------------------------------------------------------

    async def start_authorization(
        self, redirect_uri: str, scopes: str | Sequence[str], *, prompt: str | None = None
    ) -> str:
        """The Salesforce URL to send the admin's browser to. ``scopes``: a list
        or one space-separated string. The PKCE verifier waits in the store
        (keyed by ``state``) for :meth:`complete_authorization`."""
        creds = await self.credentials()
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
        await self._store.set(
            NAMESPACE,
            PENDING_PREFIX + state,
            self._encrypt_json(pending),
            ttl=self._pending_ttl,
        )
        return authorization_url(
            creds.login_url, creds.client_id, redirect_uri, scopes, state, verifier, prompt=prompt
        )

    async def complete_authorization(self, code: str, state: str) -> ConnectionStatus:
        """Finish the sign-in the callback reports: check ``state``, trade the
        code for tokens, learn who connected, store it all."""
        key = PENDING_PREFIX + state
        blob = await self._store.get(NAMESPACE, key)
        # compare_and_set to delete: a state is good for one callback only.
        if blob is None or not await self._store.compare_and_set(NAMESPACE, key, blob, None):
            raise AuthorizationError(
                "invalid_state",
                "the sign-in link expired or was already used",
                hint="Click Connect again.",
            )
        pending = self._decrypt_json(blob)
        creds = await self.credentials()
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
        creds = await self.credentials()
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
        blob = self._encrypt_json(conn.to_json())
        await self._store.set(NAMESPACE, CONNECTION_KEY, blob)
        self.rotation.pending = None  # a new grant supersedes any unsaved rotation
        self._cache = (blob, conn)
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
        _, conn = await self._load()
        revoked = False
        if conn is not None:
            creds = await self.credentials()
            token = conn.refresh_token or conn.access_token
            if creds is not None:
                try:
                    await self._oauth.revoke(creds.login_url, token)
                    revoked = True
                except SalesforceError as exc:
                    log.warning("could not revoke the Salesforce token (%s); deleting it", exc)
        await self._store.delete(NAMESPACE, CONNECTION_KEY)
        self.rotation.pending = None
        self._cache = None
        return revoked

    # --- status ---------------------------------------------------------------------

    async def status(self) -> ConnectionStatus:
        try:
            creds = await self.credentials()
        except SecretsError as exc:
            return ConnectionStatus(state=ConnectionState.NEEDS_REAUTHORIZATION, reason=str(exc))
        base = ConnectionStatus(
            state=ConnectionState.NOT_CONFIGURED,
            login_url=creds.login_url if creds else None,
            client_id=creds.client_id if creds else None,
        )
        try:
            _, conn = await self._load()
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
        unreadable = []
        for key in (CREDENTIALS_KEY, CONNECTION_KEY):
            blob = await self._store.get(NAMESPACE, key)
            if blob is None:
                continue
            try:
                self._decrypt_json(blob)
            except (SecretsError, ValueError):
                unreadable.append(key)
        return unreadable

    # --- storage --------------------------------------------------------------------

    async def _load(self) -> tuple[bytes | None, Connection | None]:
        """The connection as this instance knows it: the stored record, unless
        a rotated refresh token is kept in memory until the store has it."""
        blob, conn = await self._load_stored()
        fresh = self.rotation.overlay(blob, conn)
        return (blob, fresh) if fresh is not None else (blob, conn)

    async def _load_stored(self) -> tuple[bytes | None, Connection | None]:
        blob = await self._store.get(NAMESPACE, CONNECTION_KEY)
        if blob is None:
            return None, None
        cached = self._cache
        if cached is not None and cached[0] == blob:
            return blob, cached[1]  # unchanged since we last decrypted it
        try:
            data = self._decrypt_json(blob)
        except SecretsError as exc:
            # A changed key is fixed by an admin (old key back, or connect again);
            # until then queued work waits rather than failing for good.
            raise NeedsReauthorization(str(exc)) from None
        conn = Connection.from_json(data)
        self._cache = (blob, conn)
        return blob, conn

    def _encrypt_json(self, data: dict[str, Any]) -> bytes:
        return self._box.encrypt(json.dumps(data, separators=(",", ":")).encode())

    def _decrypt_json(self, blob: bytes) -> dict[str, Any]:
        data = json.loads(self._box.decrypt(blob))
        if not isinstance(data, dict):
            raise SecretsError("a stored Salesforce record is damaged (not a JSON object)")
        return data
