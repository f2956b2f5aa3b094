"""The smallest host that runs opencx-salesforce: what a bot framework must do.

docs/host-implementers.md walks through it; tests/docs/test_minimal_host.py runs
it against the Salesforce emulator, from handoff to the rep's reply and the
closed Case. Sessions live in a dict here to keep it short: a real host keeps
them in its database, shared by all its instances.
"""

from __future__ import annotations

import hmac
import itertools
from collections.abc import Mapping
from typing import Any

import pluggy
from aiohttp import web

from opencx_salesforce import PROJECT_NAME, HandoffReason, Message, Role, Session
from opencx_salesforce.hookspecs import HostHooks, resolve
from opencx_salesforce.models import SessionStatus
from opencx_salesforce.store.base import Store

INTEGRATIONS = "/integrations"


def make_plugin_manager() -> pluggy.PluginManager:
    """The host's manager: host specs, the historic add_hookspecs call (so the
    Salesforce plugin adds its extension hooks), the installed plugins."""
    pm = pluggy.PluginManager(PROJECT_NAME)
    pm.add_hookspecs(HostHooks)
    pm.hook.add_hookspecs.call_historic(kwargs={"pluginmanager": pm})
    pm.load_setuptools_entrypoints(PROJECT_NAME)
    pm.check_pending()  # a misspelt hook name fails here, not later
    return pm


async def call(hook: Any, **kwargs: Any) -> None:
    """Call a hook with keyword arguments and await what async plugins return."""
    for result in hook(**kwargs):
        await resolve(result)


class MinimalHost:
    """Implements :class:`opencx_salesforce.hookspecs.Host`."""

    def __init__(
        self,
        store: Store,
        *,
        public_url: str,
        config: Mapping[str, Mapping[str, Any]],
        admin_token: str,
    ) -> None:
        self._store = store
        self._public_url = public_url.rstrip("/")
        self._config = config
        self._admin_token = admin_token.encode()
        self.sessions: dict[str, Session] = {}
        self.pm = make_plugin_manager()
        self._runner: web.AppRunner | None = None
        self._ids = itertools.count(1)

    # --- the Host protocol -------------------------------------------------------
    @property
    def store(self) -> Store:
        return self._store

    @property
    def public_url(self) -> str:
        return self._public_url

    def plugin_config(self, name: str) -> Mapping[str, Any]:
        return dict(self._config.get(name, {}))

    async def get_session(self, session_id: str) -> Session | None:
        return self.sessions.get(session_id)

    async def set_session_metadata(self, session_id: str, key: str, value: Any) -> None:
        session = self.sessions[session_id]
        metadata = {**session.metadata, key: value}
        self.sessions[session_id] = session.model_copy(update={"metadata": metadata})

    async def deliver_agent_message(
        self, session_id: str, text: str, author: str, external_id: str
    ) -> None:
        session = self.sessions[session_id]
        if any(m.external_id == external_id for m in session.messages):
            return  # this Salesforce record is already shown
        message = Message(
            id=f"m{next(self._ids)}",
            role=Role.AGENT,
            text=text,
            author=author,
            external_id=external_id,
        )
        messages = [*session.messages, message]
        self.sessions[session_id] = session.model_copy(update={"messages": messages})

    async def resolve_session(self, session_id: str) -> None:
        session = self.sessions[session_id]
        self.sessions[session_id] = session.model_copy(update={"status": SessionStatus.RESOLVED})

    def is_admin(self, request: web.Request) -> bool:
        scheme, _, token = request.headers.get("Authorization", "").partition(" ")
        return scheme.lower() == "bearer" and hmac.compare_digest(
            token.strip().encode(), self._admin_token
        )

    # --- lifecycle ---------------------------------------------------------------
    async def start(self, host: str, port: int) -> None:
        app = web.Application()
        # Mount every plugin's routes under /integrations/<plugin name>, before
        # the app starts (aiohttp freezes its routes then).
        for impl in self.pm.hook.webhook_routes.get_hookimpls():
            routes = impl.function()
            if isinstance(routes, web.Application):
                app.add_subapp(f"{INTEGRATIONS}/{impl.plugin_name}", routes)
        await call(self.pm.hook.plugin_started, host=self)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        await web.TCPSite(self._runner, host, port).start()

    async def stop(self) -> None:
        # Stop serving first (the requests in progress finish), then the plugins.
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
        await call(self.pm.hook.plugin_stopping, host=self)

    # --- what the bot does ---------------------------------------------------------
    async def handoff(self, session: Session, reason: HandoffReason) -> None:
        """The bot escalates: keep the session, then tell the plugins."""
        session = session.model_copy(update={"status": SessionStatus.HANDED_OFF})
        self.sessions[session.id] = session
        await call(self.pm.hook.on_handoff, session=session, reason=reason)

    async def contact_wrote(self, session_id: str, text: str) -> None:
        """A message from the contact; after a handoff the plugins hear of it."""
        message = Message(id=f"m{next(self._ids)}", role=Role.CONTACT, text=text)
        session = self.sessions[session_id]
        session = session.model_copy(update={"messages": [*session.messages, message]})
        self.sessions[session_id] = session
        if session.status == SessionStatus.HANDED_OFF:
            await call(self.pm.hook.on_contact_reengage, session=session, messages=[message])
