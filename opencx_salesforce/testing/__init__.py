"""Test kits for people who build on opencx-salesforce (they need pytest and an
asyncio test runner: the ``testing`` extra has both).

* :mod:`.store_conformance` — the store conformance suite, runnable against any
  :class:`~opencx_salesforce.store.base.Store` implementation.
* :mod:`.connect` — connect the plugin of any host by script, through its
  settings routes (the ``salesforce_connect`` fixture uses it).

What they need is the ``testing`` extra (pytest, pytest-aiohttp).
"""
