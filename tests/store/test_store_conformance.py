"""The store conformance suite, shipped in the package
(:mod:`opencx_salesforce.testing.store_conformance`), run here as a user of the
kit runs it: imported into a test module, against the ``backend`` and
``durable_backend`` fixtures of ``conftest.py`` (memory, SQLite, Redis,
PostgreSQL)."""

from __future__ import annotations

from opencx_salesforce.testing.store_conformance import *  # noqa: F403
from opencx_salesforce.testing.store_conformance.durability import *  # noqa: F403
