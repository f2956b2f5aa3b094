"""``open_store``: the URL picks the backend."""

from __future__ import annotations

from pathlib import Path

import pytest
from store_backends import REDIS_URL

from opencx_salesforce.store import Store, open_store
from opencx_salesforce.store.memory import MemoryStore
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


async def test_an_unknown_scheme_is_refused_by_name() -> None:
    with pytest.raises(ValueError, match="postgres://db/x"):
        await open_store("postgres://db/x")
