"""pytest fixtures for testing against the local Salesforce emulator.

Installed with the package (entry point ``pytest11``), so a developer writing an
extension hook can test it against a real-HTTP Salesforce without any setup::

    async def test_my_hook(salesforce_emulator, salesforce_org):
        org = salesforce_org()               # a ready default org
        ...  # point the plugin at salesforce_emulator.base_url
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from opencx_salesforce.emulator.app import Emulator
    from opencx_salesforce.emulator.org import Org
    from opencx_salesforce.emulator.seed import OrgSeed


@pytest.fixture
async def salesforce_emulator() -> AsyncIterator[Emulator]:
    """A started emulator on a free loopback port; closed after the test."""
    from opencx_salesforce.emulator.app import Emulator

    emulator = Emulator()
    await emulator.start()
    try:
        yield emulator
    finally:
        await emulator.close()


@pytest.fixture
def salesforce_org(salesforce_emulator: Emulator) -> Callable[..., Org]:
    """A factory of orgs on the running emulator: ``salesforce_org()`` gives the
    default org; pass an :class:`OrgSeed` for another shape."""
    from opencx_salesforce.emulator.seed import default_org

    def make(seed: OrgSeed | None = None) -> Org:
        return salesforce_emulator.state.add_org(seed or default_org())

    return make
