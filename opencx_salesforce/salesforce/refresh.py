"""Refreshing the access token exactly once however many callers find it expired.

An access token has no announced lifetime: Salesforce answers 401
INVALID_SESSION_ID when it expired [src: api_meta meta_error_handling_session_exp.htm],
and every request in flight at that moment sees it. :meth:`SingleFlightRefresh.refresh`
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
import logging
import secrets
from collections.abc import Callable
from dataclasses import replace

from opencx_salesforce.salesforce.connection import Connection, Grant
from opencx_salesforce.salesforce.errors import (
    AuthorizationError,
    NeedsReauthorization,
    NotConnectedYet,
    RefreshTimedOut,
)
from opencx_salesforce.salesforce.grant_records import LOCK_KEY, GrantRecords
from opencx_salesforce.salesforce.oauth import OAuthClient
from opencx_salesforce.salesforce.rotation import Saved
from opencx_salesforce.salesforce.secrets import NAMESPACE
from opencx_salesforce.single_flight import SingleFlight

log = logging.getLogger(__name__)

NOT_CONNECTED = (
    "the plugin is not connected to Salesforce yet: an admin must click Connect on the "
    "settings page"
)


def settled(conn: Connection | None, stale: str | None) -> Connection | None:
    """The stored token if nobody needs to ask Salesforce for a new one;
    raises when asking cannot help."""
    if conn is None:
        raise NotConnectedYet(NOT_CONNECTED)
    if conn.reauth_reason:
        raise NeedsReauthorization(conn.reauth_reason)
    if stale is not None and conn.access_token != stale:
        return conn  # already refreshed, here or by another instance
    return None


class SingleFlightRefresh:
    """``lock_ttl`` must outlast one token request (the OAuth client's timeout)."""

    def __init__(
        self,
        records: GrantRecords,
        oauth: OAuthClient,
        *,
        lock_ttl: float,
        wait_timeout: float,
        poll_interval: float,
        clock: Callable[[], float],
    ) -> None:
        self._records = records
        self._store = records.store
        self._oauth = oauth
        self._lock_ttl = lock_ttl
        self._wait_timeout = wait_timeout
        self._poll_interval = poll_interval
        self._clock = clock
        self._inflight: SingleFlight[Connection] = SingleFlight()
        self.refreshes = 0  # token requests this instance made to refresh

    async def refresh(self, stale_token: str | None = None) -> Connection:
        """A token newer than ``stale_token`` (the one Salesforce just refused).

        Single flight: concurrent callers share one refresh, in this process and
        across instances. If someone already replaced ``stale_token``, the stored
        token is returned without asking Salesforce. ``None`` forces a refresh.
        """
        # One caller giving up (cancelled) does not cancel the others' refresh.
        return await self._inflight.run(lambda: self._refresh_shared(stale_token))

    async def _refresh_shared(self, stale: str | None) -> Connection:
        deadline = self._clock() + self._wait_timeout
        delay = self._poll_interval
        while True:
            _, conn = await self._records.load()
            done = settled(conn, stale)
            if done is not None:
                return done
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

    async def _refresh_locked(self, stale: str | None) -> Connection:
        # Re-read under the lock: the previous holder may have finished just now.
        blob, conn = await self._records.load()
        done = settled(conn, stale)
        if done is not None:
            return done
        assert conn is not None and blob is not None  # settled raised otherwise
        creds = await self._records.credentials()
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
            saved = await self._records.rotation.save(blob, conn, fresh)
            if saved is not Saved.SUPERSEDED:
                log.info(
                    "Salesforce access token refreshed for org %s (new refresh token %s)",
                    fresh.org_id,
                    "stored" if saved is Saved.LANDED else "kept in memory until stored",
                )
                return fresh
        elif await self._records.replace(blob, fresh):
            log.info("Salesforce access token refreshed for org %s", fresh.org_id)
            return fresh
        # The record changed while we asked (an admin reconnected or disconnected):
        # that write is newer than our refresh, so it wins.
        log.warning("Salesforce connection changed during a token refresh; using the stored one")
        _, latest = await self._records.load()
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
        if await self._records.mark_reauth(blob, conn, reason):
            log.warning("Salesforce needs to be connected again: %s", reason)
            raise NeedsReauthorization(reason)
        _, latest = await self._records.load()
        done = settled(latest, stale)
        if done is not None:
            return done
        raise NeedsReauthorization(reason)
