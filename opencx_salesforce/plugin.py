"""The hookimpls: thin glue from host events to the plugin's runtime.

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


class PluginServesAnotherHost(RuntimeError):
    """A second host asked an instance that already serves a running host (two
    hosts in one process sharing the entry point's :data:`plugin`). Sharing it,
    the second took the first's routes and stopping either stopped both."""


_ONE_HOST = (
    "this SalesforcePlugin instance already serves a running host: give each host "
    "its own, pm.register(SalesforcePlugin(), name='salesforce'), instead of the "
    "entry point's one instance (docs/host-implementers.md, "
    '"One plugin instance per host")'
)


class SalesforcePlugin:
    """The Salesforce plugin. Holds the runtime it starts for one host.

    ``clock`` is what the plugin reads the time from and sleeps on; tests pass a
    :class:`~opencx_salesforce.clock.ManualClock`."""

    def __init__(self, *, clock: Clock = SYSTEM_CLOCK) -> None:
        self._pm: pluggy.PluginManager | None = None
        self._clock = clock
        self._runtime: Runtime | None = None

    @property
    def is_running(self) -> bool:
        """Whether ``plugin_started`` ran (and ``plugin_stopping`` did not yet)."""
        return self._runtime is not None

    @property
    def runtime(self) -> Runtime:
        """What the plugin runs for its host: the outbox, the token manager, the
        reply status, the sweep, the webhook and redirect URLs. The supported way
        for a host, a tool or a test to look at a running plugin
        (docs/host-implementers.md, "Looking at a running plugin"). Raises
        :class:`PluginNotStarted` before ``plugin_started``."""
        if self._runtime is None:
            raise PluginNotStarted("the Salesforce plugin is not started")
        return self._runtime

    def _running(self) -> Runtime:
        if self._runtime is None:
            raise PluginNotStarted("the Salesforce plugin got an event before plugin_started")
        return self._runtime

    @hookimpl
    def add_hookspecs(self, pluginmanager: pluggy.PluginManager) -> None:
        if self._runtime is not None and pluginmanager is not self._pm:
            raise PluginServesAnotherHost(_ONE_HOST)
        pluginmanager.add_hookspecs(ExtensionHooks)
        self._pm = pluginmanager

    @hookimpl
    async def plugin_started(self, host: Host) -> None:
        if self._pm is None:
            raise PluginNotStarted("add_hookspecs was never called: the host skipped it")
        if self._runtime is not None:
            raise PluginServesAnotherHost(_ONE_HOST)
        self._runtime = await start_runtime(host, self._pm, clock=self._clock)

    @hookimpl
    async def plugin_stopping(self, host: Host) -> None:
        if self._runtime is not None:
            await self._runtime.stop()
            self._runtime = None

    @hookimpl
    def webhook_routes(self) -> web.Application:
        return build_routes(lambda: self._runtime)

    @hookimpl
    async def on_handoff(self, session: Session, reason: HandoffReason) -> None:
        await self._running().handoff(session, reason)

    @hookimpl
    async def on_contact_reengage(self, session: Session, messages: list[Message]) -> None:
        await self._running().reengage(session, messages)

    @hookimpl
    async def on_contact_leave(self, session: Session) -> None:
        await self._running().contact_left(session)


plugin = SalesforcePlugin()
