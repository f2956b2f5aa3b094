"""Noticing a store that lost everything: the epoch marker.

A Redis restarted without persistence (or a ``FLUSHALL``, or a PostgreSQL
schema restored from an old dump) hands the plugin an empty store while host
instances keep running. Nothing fails loudly: the queued handoffs are gone, the
connection reads "not configured", and a new webhook token would be made while
a running instance, and the Apex package in Salesforce, still use the old one.

So the first runtime on a store writes a marker, ``store_epoch`` (a random id),
with ``set_if_absent``; every instance remembers the id it found at start and
:class:`StoreWatch` looks at the marker every :data:`CHECK_INTERVAL` seconds.
Missing, or another id, means the store was wiped under this instance. Then:

* it logs at ERROR, once, what was lost and what to do;
* the instance that still holds the pre-wipe state writes it back where that is
  safe: the webhook token (the one deployed in Salesforce: a token made on the
  empty store is known to nobody), and a new marker that records the wipe
  (when, and the id it replaced), so every other instance, ``doctor`` and the
  settings page learn of it;
* an instance that started on the wiped store and finds its marker replaced by
  such a record adopts the restored webhook token.

What cannot come back: queued work and the Salesforce grant (an admin connects
again; docs/troubleshooting.md, "The store lost its data").
"""

from __future__ import annotations

import asyncio
import json
import logging
import secrets
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from opencx_salesforce.store import namespaces
from opencx_salesforce.store.base import Store

log = logging.getLogger(__name__)

EPOCH_NS = namespaces.STATE
EPOCH_KEY = "store_epoch"
CHECK_INTERVAL = 30.0


@dataclass(frozen=True)
class Wipe:
    """A wipe some instance noticed."""

    detected_at: float  # unix seconds
    previous: str  # the marker id the store had before
    # Salesforce was connected again since: recovered for good, whatever the
    # connection does later (a Disconnect is not the wipe coming back).
    recovered: bool = False


@dataclass(frozen=True)
class Epoch:
    id: str
    created_at: float
    wipe: Wipe | None = None  # set on the marker written after a wipe

    def encode(self) -> bytes:
        data: dict[str, object] = {"id": self.id, "created_at": self.created_at}
        if self.wipe is not None:
            data["wipe"] = {
                "detected_at": self.wipe.detected_at,
                "previous": self.wipe.previous,
                "recovered": self.wipe.recovered,
            }
        return json.dumps(data, sort_keys=True).encode()

    @classmethod
    def decode(cls, raw: bytes) -> Epoch:
        data = json.loads(raw)
        wipe = data.get("wipe")
        return cls(
            str(data["id"]),
            float(data["created_at"]),
            Wipe(float(wipe["detected_at"]), str(wipe["previous"]), bool(wipe.get("recovered")))
            if wipe
            else None,
        )


def still_unresolved(wipe: Wipe | None, connected_at: float | None) -> bool:
    """A wipe nobody has recovered from yet: Salesforce was not connected again
    since (the grant was among what the wipe took)."""
    if wipe is None or wipe.recovered:
        return False
    return connected_at is None or connected_at < wipe.detected_at


def describe(wipe: Wipe) -> str:
    when = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(wipe.detected_at))
    return (
        f"the store lost all its data (noticed {when}): queued handoffs and replies of "
        "before are gone and the Salesforce connection must be made again"
    )


def new_epoch(wipe: Wipe | None = None) -> Epoch:
    return Epoch(secrets.token_hex(8), time.time(), wipe)


async def read_epoch(store: Store) -> Epoch | None:
    raw = await store.get(EPOCH_NS, EPOCH_KEY)
    return None if raw is None else Epoch.decode(raw)


async def ensure_epoch(store: Store) -> Epoch:
    """The store's marker, written now if this is its first runtime."""
    await store.set_if_absent(EPOCH_NS, EPOCH_KEY, new_epoch().encode())
    found = await read_epoch(store)
    assert found is not None
    return found


class StoreWatch:
    """Looks at the marker of the store this instance started on.

    ``restore`` is called once by the instance that holds the pre-wipe state
    (it writes back what is safe); ``adopt`` by one that started on the wiped
    store, once the marker says another instance restored it."""

    def __init__(
        self,
        store: Store,
        epoch: Epoch,
        *,
        restore: Callable[[], Awaitable[None]],
        adopt: Callable[[], Awaitable[None]],
        interval: float = CHECK_INTERVAL,
    ) -> None:
        self._store = store
        self.epoch = epoch
        self._restore = restore
        self._adopt = adopt
        self.interval = interval
        self.wiped: Wipe | None = epoch.wipe
        self._started_on = epoch.id  # the marker this instance started with
        self._task: asyncio.Task[None] | None = None

    async def check(self) -> Wipe | None:
        """Look now; the wipe this instance knows of (``None``: none)."""
        found = await read_epoch(self._store)
        if found is not None and found.id == self.epoch.id:
            if found.wipe is not None:
                self.epoch, self.wiped = found, found.wipe  # marked recovered, perhaps
            return self.wiped
        if found is not None and found.wipe is not None:
            self.epoch = found
            if found.wipe.previous == self._started_on:
                # Another instance from before the wipe restored it already.
                self._noticed(found.wipe, "another instance restored what it could")
                return self.wiped
            # Another instance noticed first and restored the store: this one
            # started on the wiped store; take the restored state.
            self._noticed(found.wipe, "this instance takes the restored state")
            await self._adopt()
            return self.wiped
        # Missing, or replaced by a fresh marker: this instance holds the state
        # from before. Write the record of the wipe, then restore.
        wipe = found.wipe if found is not None and found.wipe else Wipe(time.time(), self.epoch.id)
        record = new_epoch(wipe)
        expected = None if found is None else found.encode()
        if await self._store.compare_and_set(EPOCH_NS, EPOCH_KEY, expected, record.encode()):
            self.epoch = record
            self._noticed(wipe, "this instance restores what it can")
            await self._restore()
        # else: someone else changed it meanwhile; the next look sorts it out.
        return self.wiped

    async def connected(self) -> None:
        """Salesforce was connected: a wipe this store had is recovered from,
        and stays so (the marker says it to every instance)."""
        while True:
            found = await read_epoch(self._store)
            if found is None or found.wipe is None or found.wipe.recovered:
                return
            wipe = Wipe(found.wipe.detected_at, found.wipe.previous, recovered=True)
            record = Epoch(found.id, found.created_at, wipe)
            if await self._store.compare_and_set(
                EPOCH_NS, EPOCH_KEY, found.encode(), record.encode()
            ):
                if found.id == self.epoch.id:
                    self.epoch, self.wiped = record, wipe
                return

    def _noticed(self, wipe: Wipe, action: str) -> None:
        if self.wiped is None:
            log.error(
                "THE STORE WAS WIPED: its epoch marker %s is gone (a Redis restart without "
                "persistence, a FLUSHALL, a restored backup). Queued handoffs and replies of "
                "before are lost and Salesforce must be connected again; %s. See "
                "docs/troubleshooting.md, 'The store lost its data'.",
                wipe.previous,
                action,
            )
        self.wiped = wipe

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._loop(), name="store watch")

    async def _loop(self) -> None:
        while True:
            await asyncio.sleep(self.interval)
            try:
                await self.check()
            except Exception as exc:  # the store is away: the outbox says so already
                log.warning("could not read the store's epoch marker: %s", exc)

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None
