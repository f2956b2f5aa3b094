"""How the conformance suite opens stores: a :class:`Backend` opens any number of
store objects that all see the same data, as separate host instances would."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from opencx_salesforce.store.base import Store


@dataclass
class Backend:
    """Opens stores that all see the same data: for a shared backend, each
    :meth:`open` is a new connection (another instance's view); an in-process
    store may hand back the same object every time.

    ``cleanup`` runs once, after every store is closed (drop the test's schema,
    delete its key prefix, …)."""

    name: str
    opener: Callable[[], Awaitable[Store]]
    cleanup: Callable[[], Awaitable[None]] | None = None
    open_stores: list[Store] = field(default_factory=list)

    async def open(self) -> Store:
        store = await self.opener()
        self.open_stores.append(store)
        return store

    async def close(self, store: Store) -> None:
        """Close one store now (to reopen the data with another)."""
        self.open_stores = [other for other in self.open_stores if other is not store]
        await store.close()

    async def close_all(self) -> None:
        for store in {id(store): store for store in self.open_stores}.values():
            await store.close()
        self.open_stores.clear()
        if self.cleanup is not None:
            await self.cleanup()
