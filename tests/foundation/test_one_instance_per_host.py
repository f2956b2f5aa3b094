"""One SalesforcePlugin instance serves one host. Two hosts in one process
that both loaded the entry point's instance shared it: the second took the
first's routes, and stopping either stopped both. The second is refused."""

from __future__ import annotations

import pytest

from opencx_salesforce.devhost import DevHost, HostSettings
from opencx_salesforce.devhost.stack import start_stack
from opencx_salesforce.plugin import PluginServesAnotherHost, SalesforcePlugin
from opencx_salesforce.store.memory import MemoryStore

SECTIONS = {"salesforce": {"dev_mode": True}}


def second_host(plugin: SalesforcePlugin) -> DevHost:
    return DevHost(
        HostSettings(admin_token="admin-token-of-the-second-host", store_url="memory://"),
        store=MemoryStore(),
        plugins={"salesforce": plugin},
        plugin_sections=SECTIONS,
    )


async def test_a_second_host_on_a_running_instance_is_refused_and_the_first_goes_on() -> None:
    first = await start_stack(store=MemoryStore())
    try:
        runtime = first.plugin.runtime
        with pytest.raises(PluginServesAnotherHost, match="give each host its own"):
            second_host(first.plugin)
        assert first.plugin.runtime is runtime  # still the first host's
    finally:
        await first.close()


async def test_an_instance_whose_host_stopped_may_serve_another() -> None:
    first = await start_stack(store=MemoryStore())
    plugin = first.plugin
    await first.close()
    host = second_host(plugin)
    await host.start(port=0)
    try:
        assert plugin.is_running
    finally:
        await host.stop()
