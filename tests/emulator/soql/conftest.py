from __future__ import annotations

import pytest
from soql_world import World, seed_world


@pytest.fixture
def world() -> World:
    return seed_world()
