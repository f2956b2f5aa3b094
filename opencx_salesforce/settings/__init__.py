"""The plugin's settings.

* :mod:`.fields` every ``[salesforce]`` key: type, default, description
* :mod:`.model`  :class:`SalesforceSettings`, the checks across those keys, and
  :func:`load_settings`
* :mod:`.checks` the checks of single values (URLs, scopes, keys, field names)
* :mod:`.picklists` the default Case Origin per channel and Priority map
* :mod:`.live`   the ``[salesforce.live]`` sub-table
* :mod:`.loader` the TOML/env loader with actionable errors (the reference host
  loads its ``[host]`` table with it too)
"""

from opencx_salesforce.settings.model import SalesforceSettings, load_settings

__all__ = ["SalesforceSettings", "load_settings"]
