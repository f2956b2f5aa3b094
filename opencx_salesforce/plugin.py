"""The hookimpls: thin glue from host events to the plugin's services.

The entry point ``opencx: salesforce`` names :data:`plugin`, one instance per
process. A host that runs several hosts in one process (tests do) registers its
own :class:`SalesforcePlugin` instances instead.
"""

from __future__ import annotations

import pluggy
from aiohttp import web

from opencx_salesforce.clock import SYSTEM_CLOCK, Clock
from opencx_salesforce.hookspecs import ExtensionHooks, Host, hookimpl
from opencx_salesforce.models import HandoffReason, Message, Session
from opencx_salesforce.runtime import Runtime, start_runtime
from opencx_salesforce.web.app import build_routes


class PluginNotStarted(RuntimeError):
    """A host event arrived before ``plugin_started`` (a host bug)."""


class SalesforcePlugin:
    """The Salesforce plugin. Holds the runtime it starts for one host.

    ``clock`` is what the plugin reads the time from and sleeps on; tests pass a
    :class:`~opencx_salesforce.clock.ManualClock`."""

    def __init__(self, *, clock: Clock = SYSTEM_CLOCK) -> None:
        self._pm: pluggy.PluginManager | None = None
        self._clock = clock
        self.services: Runtime | None = None

    def _running(self) -> Runtime:
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
        self.services = await start_runtime(host, self._pm, clock=self._clock)

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
