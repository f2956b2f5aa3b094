"""The plugin's Prometheus metrics, one registry per running plugin.

Each :class:`~opencx_salesforce.runtime.Runtime` owns a
:class:`PluginMetrics` with its own ``CollectorRegistry`` (never the process-wide
default), so two plugins in one process, or two tests, never clash. Served at
``{prefix}/metrics`` to administrators (:mod:`opencx_salesforce.web.metrics`),
or on a listener of its own when ``metrics_listen`` is set
(:mod:`.listener`). The names are listed in ``docs/operations.md``.
"""

from opencx_salesforce.metrics.registry import PluginMetrics

__all__ = ["PluginMetrics"]
