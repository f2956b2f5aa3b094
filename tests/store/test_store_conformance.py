"""The store conformance suite, shipped in the package
(:mod:`opencx_salesforce.testing.store_conformance`), run here as a user of the
kit runs it: imported into a test module, against the ``backend`` and
``durable_backend`` fixtures of ``conftest.py`` (memory, SQLite, Redis,
PostgreSQL)."""

from __future__ import annotations

from opencx_salesforce.store.base import LeasingEnqueue, ReadsMany
from opencx_salesforce.testing.store_conformance import *  # noqa: F403
from opencx_salesforce.testing.store_conformance import Backend
from opencx_salesforce.testing.store_conformance.durability import *  # noqa: F403


async def test_every_store_shipped_offers_enqueue_leased(backend: Backend) -> None:
    # The conformance tests of enqueue_leased skip a store without it: none of
    # ours may be one, or those tests would pass by skipping.
    assert isinstance(await backend.open(), LeasingEnqueue)


async def test_every_store_shipped_offers_get_many(backend: Backend) -> None:
    # Likewise for get_many's conformance tests.
    assert isinstance(await backend.open(), ReadsMany)
