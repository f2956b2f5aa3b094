"""The hookimpls: thin glue from host events to the plugin's services.

The entry point ``opencx: salesforce`` names :data:`plugin`, one instance per
process. A host that runs several hosts in one process (tests do) registers its
own :class:`SalesforcePlugin` instances instead.
"""

from __future__ import annotations

import pluggy
from aiohttp import web

from opencx_salesforce.hookspecs import ExtensionHooks, Host, hookimpl
from opencx_salesforce.models import HandoffReason, Message, Session
from opencx_salesforce.runtime import Services, start_services
from opencx_salesforce.web.app import build_routes


class PluginNotStarted(RuntimeError):
    """A host event arrived before ``plugin_started`` (a host bug)."""


class SalesforcePlugin:
    """The Salesforce plugin. Holds the services it starts for one host."""

    def __init__(self) -> None:
        self._pm: pluggy.PluginManager | None = None
        self.services: Services | None = None

    def _running(self) -> Services:
        if self.services is None:
            raise PluginNotStarted("the Salesforce plugin got an event before plugin_started")
        return self.services

    @hookimpl
    def add_hookspecs(self, pluginmanager: pluggy.PluginManager) -> None:
        pluginmanager.add_hookspecs(ExtensionHooks)
        self._pm = pluginmanager

    @hookimpl
    async def plugin_started(self, host: Host) -> None:
        if self._pm is None:
            raise PluginNotStarted("add_hookspecs was never called: the host skipped it")
        self.services = await start_services(host, self._pm)

    @hookimpl
    async def plugin_stopping(self, host: Host) -> None:
        if self.services is not None:
            await self.services.stop()
            self.services = None

    @hookimpl
    def webhook_routes(self) -> web.Application:
        return build_routes(lambda: self.services)

    @hookimpl
    async def on_handoff(self, session: Session, reason: HandoffReason) -> None:
        await self._running().handoff(session, reason)

    @hookimpl
    async def on_contact_reengage(self, session: Session, messages: list[Message]) -> None:
        await self._running().reengage(session, messages)


plugin = SalesforcePlugin()
