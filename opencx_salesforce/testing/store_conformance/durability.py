"""Durability: what one store object wrote is there for the next one, after a
restart (a closed SQLite file reopened; a new Redis client)."""

from __future__ import annotations

from opencx_salesforce.store import ItemState
from opencx_salesforce.testing.store_conformance.backend import Backend
from opencx_salesforce.testing.store_conformance.leased import leasing

__all__ = [
    "test_an_item_enqueued_leased_survives_closing_and_reopening",
    "test_data_and_queue_items_survive_closing_and_reopening",
]


async def test_data_and_queue_items_survive_closing_and_reopening(
    durable_backend: Backend,
) -> None:
    before = await durable_backend.open()
    await before.set("tokens", "org:00D1", b"refresh-token")
    await before.set("tokens", "short", b"v", ttl=60)
    for item_id in ["held", "buried", "postponed", "waiting"]:
        await before.enqueue("outbox", item_id, item_id.encode())
    [held, buried] = await before.lease("outbox", visibility_timeout=60, limit=2)
    assert (held.item_id, buried.item_id) == ("held", "buried")
    await before.bury(buried, error="boom")
    [postponed] = await before.lease("outbox", visibility_timeout=60)
    assert postponed.item_id == "postponed"
    await before.retry_in(postponed, 60, error="503")
    snapshot = await before.items("outbox")
    await durable_backend.close(before)

    after = await durable_backend.open()
    assert await after.get("tokens", "org:00D1") == b"refresh-token"
    assert await after.keys("tokens") == ["org:00D1", "short"]
    assert await after.items("outbox") == snapshot
    assert [(item.item_id, item.state) for item in snapshot] == [
        ("held", ItemState.LEASED),
        ("buried", ItemState.DEAD),
        ("postponed", ItemState.READY),
        ("waiting", ItemState.READY),
    ]
    # The lease taken before the restart is still the current one.
    assert await after.ack(held) is True
    [lease] = await after.lease("outbox", visibility_timeout=60)
    assert (lease.item_id, lease.payload, lease.attempts) == ("waiting", b"waiting", 1)


async def test_an_item_enqueued_leased_survives_closing_and_reopening(
    durable_backend: Backend,
) -> None:
    before = await durable_backend.open()
    lease = await leasing(before).enqueue_leased("outbox", "held", b"p", visibility_timeout=60)
    assert lease is not None
    await durable_backend.close(before)

    after = await durable_backend.open()
    [item] = await after.items("outbox")
    assert (item.item_id, item.state, item.attempts) == ("held", ItemState.LEASED, 1)
    assert await after.ack(lease) is True  # still the current lease
