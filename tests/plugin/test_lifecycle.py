"""The plugin's lifecycle hooks, seen from the host."""

from __future__ import annotations

import pytest

from opencx_salesforce.devhost.stack import start_stack
from opencx_salesforce.models import HandoffReason, Session
from opencx_salesforce.plugin import PluginNotStarted
from opencx_salesforce.store.memory import MemoryStore


async def test_hook_plugin_stopping_stops_the_runtime() -> None:
    stack = await start_stack(store=MemoryStore())
    try:
        plugin = stack.plugin
        assert plugin.is_running
        outbox = plugin.runtime.outbox
        await stack.host.stop()  # calls plugin_stopping

        assert not plugin.is_running
        with pytest.raises(PluginNotStarted):
            plugin.runtime  # noqa: B018 - the property raises
        # Its workers are gone: nothing runs the outbox any more.
        assert outbox.running_workers() == 0
        # A host event after the stop is a host bug, named as such.
        with pytest.raises(PluginNotStarted):
            await plugin.on_handoff(
                session=Session(id="s-after-stop"), reason=HandoffReason(code="requested")
            )
    finally:
        await stack.close()  # the host stop is idempotent
