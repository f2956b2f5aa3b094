"""Fixtures of the store conformance suite: every test that takes ``store`` or
``backend`` runs once per backend (memory; SQLite with its work on the event
loop, on its threads, and with only its commits on the writer's thread; Redis
at 127.0.0.1:6379; PostgreSQL at 127.0.0.1:5432 in a fresh schema)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from store_backends import make_backend

from opencx_salesforce.store import Store
from opencx_salesforce.testing.store_conformance.backend import Backend

ALL_BACKENDS = [
    "memory",
    "sqlite",
    "sqlite-threads",
    "sqlite-split",
    pytest.param("redis", marks=pytest.mark.redis),
    pytest.param("postgres", marks=pytest.mark.postgres),
]
# The backends whose data outlives the store object that wrote it.
DURABLE_BACKENDS = [
    "sqlite",
    "sqlite-threads",
    "sqlite-split",
    pytest.param("redis", marks=pytest.mark.redis),
    pytest.param("postgres", marks=pytest.mark.postgres),
]


@pytest.fixture(params=ALL_BACKENDS)
async def backend(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Backend]:
    opened = make_backend(request.param, tmp_path)
    yield opened
    await opened.close_all()


@pytest.fixture(params=DURABLE_BACKENDS)
async def durable_backend(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Backend]:
    opened = make_backend(request.param, tmp_path)
    yield opened
    await opened.close_all()


@pytest.fixture
async def store(backend: Backend) -> Store:
    """A fresh, empty store of the backend under test."""
    return await backend.open()
