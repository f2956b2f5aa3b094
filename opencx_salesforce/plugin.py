"""The hookimpls: thin glue from host events to the plugin's services.

The entry point ``opencx: salesforce`` names :data:`plugin`, one instance per
process. A host that runs several hosts in one process (tests do) registers its
own :class:`SalesforcePlugin` instances instead.
"""

from __future__ import annotations

import pluggy

from opencx_salesforce.hookspecs import ExtensionHooks, hookimpl


class SalesforcePlugin:
    """The Salesforce plugin. Holds the services it starts for one host."""

    @hookimpl
    def add_hookspecs(self, pluginmanager: pluggy.PluginManager) -> None:
        pluginmanager.add_hookspecs(ExtensionHooks)


plugin = SalesforcePlugin()
