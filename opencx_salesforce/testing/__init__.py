"""Test kits for people who build on opencx-salesforce (they need pytest and an
asyncio test runner: the ``test`` extra has both).

* :mod:`.store_conformance` — the store conformance suite, runnable against any
  :class:`~opencx_salesforce.store.base.Store` implementation.
"""
