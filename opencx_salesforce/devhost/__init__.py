"""The reference host runtime: a small "bot framework" that implements the host
side of the contract (:class:`opencx_salesforce.hookspecs.Host`), used by the
demo, the tests and the benchmarks.

Start it with ``opencx-salesforce serve --config FILE``, or in-process::

    host = DevHost(settings, store=store)
    base_url = await host.start(port=0)
"""

from opencx_salesforce.devhost.config import HostSettings, load_config
from opencx_salesforce.devhost.hook_errors import HookError
from opencx_salesforce.devhost.host import DevHost
from opencx_salesforce.devhost.plugins import PluginLoadError, make_plugin_manager
from opencx_salesforce.devhost.sessions import SessionStateError, UnknownSessionError

__all__ = [
    "DevHost",
    "HookError",
    "HostSettings",
    "PluginLoadError",
    "SessionStateError",
    "UnknownSessionError",
    "load_config",
    "make_plugin_manager",
]
