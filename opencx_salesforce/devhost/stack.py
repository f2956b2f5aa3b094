"""A whole local stack in one process: the Salesforce emulator with an org, the
reference host, and the Salesforce plugin connected to that org.

The demo, the benchmarks and the end-to-end tests all start the same stack, so
what they measure and show is one thing. Nothing here reaches into the plugin:
the host drives it through the host contract, and it connects to the emulator
through the same OAuth endpoints a real org offers.
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from opencx_salesforce.clock import SYSTEM_CLOCK, Clock
from opencx_salesforce.devhost.config import HostSettings
from opencx_salesforce.devhost.host import DevHost
from opencx_salesforce.emulator.app import Emulator
from opencx_salesforce.emulator.org import Org
from opencx_salesforce.emulator.seed import (
    DEMO_CLIENT_ID,
    DEMO_CLIENT_SECRET,
    OrgSeed,
    default_org,
)
from opencx_salesforce.plugin import SalesforcePlugin
from opencx_salesforce.runtime import Runtime
from opencx_salesforce.store.base import Store


@dataclass
class Stack:
    emulator: Emulator
    org: Org
    host: DevHost
    plugin: SalesforcePlugin
    host_url: str

    @property
    def runtime(self) -> Runtime:
        """The plugin's runtime (:attr:`SalesforcePlugin.runtime`)."""
        return self.plugin.runtime

    async def connect_client_credentials(self) -> None:
        """Connect the plugin the headless way: save the Connected App's
        credentials, then the OAuth client-credentials flow (the app's Run As
        user)."""
        tokens = self.runtime.tokens
        await tokens.save_credentials(self.emulator.base_url, DEMO_CLIENT_ID, DEMO_CLIENT_SECRET)
        await tokens.connect_client_credentials()

    async def close(self) -> None:
        await self.host.stop()
        await self.emulator.close()


async def start_host(
    *,
    store: Store,
    emulator_url: str,
    plugin_settings: Mapping[str, Any] | None = None,
    admin_token: str | None = None,
    extra_plugins: Mapping[str, object] | None = None,
    clock: Clock = SYSTEM_CLOCK,
) -> tuple[DevHost, SalesforcePlugin, str]:
    """A reference host with its own Salesforce plugin instance (and any
    ``extra_plugins``, registered before it starts, as a host loads plugins), on
    a free port."""
    plugin = SalesforcePlugin(clock=clock)
    section = {"dev_mode": True, "login_url": emulator_url, **(plugin_settings or {})}
    host = DevHost(
        HostSettings(admin_token=admin_token or secrets.token_urlsafe(24), listen_port=0),
        store=store,
        plugins={"salesforce": plugin, **(extra_plugins or {})},
        plugin_sections={"salesforce": section},
    )
    url = await host.start(port=0)
    return host, plugin, url


async def start_stack(
    *,
    store: Store,
    seed: OrgSeed | None = None,
    emulator: Emulator | None = None,
    plugin_settings: Mapping[str, Any] | None = None,
    extra_plugins: Mapping[str, object] | None = None,
    connect: bool = True,
) -> Stack:
    """Start the emulator (unless given) with an org, a host with the plugin, and
    connect the plugin to the org with client credentials (unless ``connect`` is
    false)."""
    if emulator is None:
        emulator = Emulator()
        await emulator.start()
    org = emulator.state.add_org(seed or default_org())
    host, plugin, url = await start_host(
        store=store,
        emulator_url=emulator.base_url,
        plugin_settings=plugin_settings,
        extra_plugins=extra_plugins,
    )
    stack = Stack(emulator, org, host, plugin, url)
    # The Connected App must accept this host's OAuth callback URL.
    emulator.state.auth.set_callback_urls(DEMO_CLIENT_ID, [stack.runtime.redirect_uri])
    if connect:
        await stack.connect_client_credentials()
    return stack
