"""The plugin's settings.

* :mod:`.model`  :class:`SalesforceSettings`, the ``[salesforce]`` table
* :mod:`.loader` the TOML/env loader with actionable errors (the reference host
  loads its ``[host]`` table with it too)
"""

from opencx_salesforce.settings.model import SalesforceSettings, load_settings

__all__ = ["SalesforceSettings", "load_settings"]
