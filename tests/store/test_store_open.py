"""``open_store``: the URL picks the backend."""

from __future__ import annotations

from pathlib import Path

import pytest
from store_backends import REDIS_URL, drop_schema, fresh_schema, postgres_url

from opencx_salesforce.store import Store, open_store
from opencx_salesforce.store.memory import MemoryStore
from opencx_salesforce.store.postgres import PostgresStore
from opencx_salesforce.store.redis import RedisStore
from opencx_salesforce.store.sqlite import SQLiteStore


@pytest.mark.parametrize(
    ("url", "kind"),
    [
        ("memory://", MemoryStore),
        ("sqlite:///{tmp}/store.db", SQLiteStore),
        pytest.param(REDIS_URL, RedisStore, marks=pytest.mark.redis),
    ],
)
async def test_the_url_scheme_picks_the_backend(
    url: str, kind: type[Store], tmp_path: Path
) -> None:
    store = await open_store(url.format(tmp=tmp_path))
    try:
        assert isinstance(store, kind)
        assert isinstance(store, Store)  # the runtime-checkable protocol
        assert await store.get("ns", "missing") is None
    finally:
        await store.close()


@pytest.mark.postgres
@pytest.mark.parametrize("scheme", ["postgresql", "postgres"])
async def test_both_postgres_schemes_open_the_postgres_store(scheme: str) -> None:
    schema = fresh_schema()
    url = postgres_url(schema).replace("postgresql://", f"{scheme}://", 1)
    store = await open_store(url)
    try:
        assert isinstance(store, PostgresStore)
        assert isinstance(store, Store)
        assert store.schema == schema
        assert await store.get("ns", "missing") is None
    finally:
        await store.close()
        await drop_schema(schema)


async def test_an_unknown_scheme_is_refused_by_name() -> None:
    with pytest.raises(ValueError, match="mongodb://db/x"):
        await open_store("mongodb://db/x")
