"""The PostgreSQL store's requests of concurrent callers share statements
(``store/_pg_combine.py``): fewer statements under load, one alone when idle,
each caller with its own answer, and one caller's bad value failing only it."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import pytest
from store_backends import drop_schema, fresh_schema, postgres_url

from opencx_salesforce.store.postgres import PostgresStore

pytestmark = pytest.mark.postgres


@pytest.fixture
async def store() -> AsyncIterator[PostgresStore]:
    schema = fresh_schema()
    opened = await PostgresStore.open(postgres_url(schema))
    try:
        yield opened
    finally:
        await opened.close()
        await drop_schema(schema)


async def test_a_lone_request_is_one_statement_of_its_own(store: PostgresStore) -> None:
    before = store.round_trips
    await store.set("ns", "a", b"1")
    assert store.round_trips == before + 1
    assert await store.get("ns", "a") == b"1"
    assert store.round_trips == before + 2


async def test_concurrent_writes_share_statements_and_each_lands(store: PostgresStore) -> None:
    before = store.round_trips
    await asyncio.gather(*(store.set("ns", f"k{n}", f"v{n}".encode()) for n in range(200)))
    written = store.round_trips - before
    assert written == 2  # the first goes at once, the rest wait for it and go together
    assert await store.get_many("ns", [f"k{n}" for n in range(200)]) == {
        f"k{n}": f"v{n}".encode() for n in range(200)
    }


async def test_concurrent_reads_share_statements_and_each_gets_its_keys(
    store: PostgresStore,
) -> None:
    await store.set_many("a", {"x": b"ax", "y": b"ay"})
    await store.set_many("b", {"x": b"bx"})
    before = store.round_trips
    reads = await asyncio.gather(
        *(store.get("a", "x") for _ in range(50)),
        store.get("b", "x"),
        store.get("b", "y"),
        store.get_many("a", ["x", "y", "z"]),
        store.get_many("b", ["x", "x"]),
    )
    assert store.round_trips - before <= 4
    assert reads[:50] == [b"ax"] * 50
    assert reads[50:] == [b"bx", None, {"x": b"ax", "y": b"ay"}, {"x": b"bx"}]


async def test_racing_compare_and_sets_on_one_key_have_exactly_one_winner(
    store: PostgresStore,
) -> None:
    """Requests on one row cannot share a statement (its answer could not say
    which changed the row): the first goes with the others, the rest after."""
    await store.set_many("ns", {"session": b"v0", "a": b"a0", "b": b"b0"})
    outcomes = await asyncio.gather(
        # These two take the statements that go at once; the racers queue behind
        # them and would go together.
        store.compare_and_set("ns", "a", b"a0", b"a1"),
        store.compare_and_set("ns", "b", b"b0", b"b1"),
        *(store.compare_and_set("ns", "session", b"v0", f"v{n}".encode()) for n in range(1, 30)),
    )
    assert outcomes[:2] == [True, True]
    assert outcomes[2:].count(True) == 1
    winner = outcomes[2:].index(True) + 1
    assert await store.get("ns", "session") == f"v{winner}".encode()


async def test_racing_claims_deletes_and_acks_have_exactly_one_winner(
    store: PostgresStore,
) -> None:
    claims = await asyncio.gather(
        *(store.set_if_absent("locks", "contact", f"t{n}".encode(), ttl=60) for n in range(20))
    )
    assert claims.count(True) == 1
    assert await store.get("locks", "contact") == f"t{claims.index(True)}".encode()

    unsets = await asyncio.gather(
        *(store.compare_and_set("locks", "contact", f"t{n}".encode(), None) for n in range(20))
    )
    assert unsets == claims  # only the holder's token removed it

    await store.set_many("ns", {"a": b"1", "b": b"2"})
    deletes = await asyncio.gather(*(store.delete("ns", key) for key in "aabbc"))
    assert sorted(deletes) == [False, False, False, True, True]
    assert await store.get_many("ns", ["a", "b"]) == {}

    added = await asyncio.gather(
        *(store.enqueue_leased("q", "job", b"p", visibility_timeout=60) for _ in range(10))
    )
    leases = [lease for lease in added if lease is not None]
    assert len(leases) == 1
    acks = await asyncio.gather(*(store.ack(leases[0]) for _ in range(5)))
    assert acks.count(True) == 1
    assert await store.items("q") == []


GOOD = [f"good{n}" for n in range(20)] + [f"later{n}" for n in range(20)]


async def among_good_writes(store: PostgresStore, key: str, value: Any) -> list[Any]:
    """``set(key, value)`` sent with 20 good writes before it and 20 after, so
    they share statements; every outcome, the odd one's at index 20."""
    return await asyncio.gather(
        *(store.set("ns", good, b"v") for good in GOOD[:20]),
        store.set("ns", key, value),
        *(store.set("ns", good, b"v") for good in GOOD[20:]),
        return_exceptions=True,
    )


async def test_a_value_the_server_refuses_fails_only_its_own_caller(
    store: PostgresStore,
) -> None:
    """PostgreSQL text cannot hold NUL: that one key's write is refused, and the
    writes that shared its statement land."""
    outcomes = await among_good_writes(store, "bad\x00key", b"v")
    failed = [o for o in outcomes if isinstance(o, Exception)]
    assert len(failed) == 1 and isinstance(failed[0], asyncpg.PostgresError)
    assert isinstance(outcomes[20], asyncpg.PostgresError)
    assert set(await store.get_many("ns", GOOD)) == set(GOOD)


async def test_a_value_the_driver_cannot_send_fails_only_its_own_caller(
    store: PostgresStore,
) -> None:
    """A value of the wrong type (text for a bytea) is refused before it is
    sent: only its own caller hears of it, at once, not after retries."""
    outcomes = await among_good_writes(store, "typed", "not bytes")
    assert [type(o) for o in outcomes if isinstance(o, Exception)] == [asyncpg.DataError]
    assert isinstance(outcomes[20], asyncpg.DataError)
    assert set(await store.get_many("ns", GOOD)) == set(GOOD)


async def test_a_caller_cancelled_before_its_statement_left_writes_nothing(
    store: PostgresStore,
) -> None:
    first = [asyncio.create_task(store.set("ns", f"k{n}", b"v")) for n in range(3)]
    queued = asyncio.create_task(store.set("ns", "cancelled", b"v"))
    await asyncio.sleep(0)  # every call has queued or sent its request
    queued.cancel()
    await asyncio.gather(*first)
    with pytest.raises(asyncio.CancelledError):
        await queued
    await store.set("ns", "after", b"v")  # the queue moves on past it
    assert await store.get("ns", "cancelled") is None
    assert await store.get("ns", "after") == b"v"
