"""SQLite group commit: writes that arrive together share one transaction (one
fsync), each keeping its own result, its own atomicity and its own error."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

import pytest
from store_backends import SQLITE_PLACEMENTS

from opencx_salesforce.store._sqlite_connection import SQLiteConnection, Unit
from opencx_salesforce.store.sqlite import SQLiteStore


async def test_concurrent_writes_share_a_commit_and_survive_reopening(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'store.db'}"
    store = await SQLiteStore.open(url)
    try:
        await store.set("ns", "warm", b"up")  # the first write's purge is behind us
        before = store.commits
        await store.set("ns", "lone", b"1")
        assert store.commits == before + 1

        before = store.commits
        results = await asyncio.gather(
            *[store.set("ns", f"k{n}", str(n).encode()) for n in range(20)],
            *[store.enqueue("q", f"item{n}", b"p") for n in range(20)],
            store.set_if_absent("ns", "lone", b"2"),  # loses: the key is there
            store.compare_and_set("ns", "lone", b"1", b"3"),  # wins
        )
        # 42 writes, and far fewer commits: they waited for each other's.
        assert store.commits - before <= 2
        assert results[20:40] == [True] * 20
        assert results[40:] == [False, True]
    finally:
        await store.close()

    reopened = await SQLiteStore.open(url)
    try:
        assert [await reopened.get("ns", f"k{n}") for n in range(20)] == [
            str(n).encode() for n in range(20)
        ]
        assert await reopened.get("ns", "lone") == b"3"
        assert len(await reopened.items("q")) == 20
    finally:
        await reopened.close()


async def test_concurrent_leases_share_a_commit_and_take_each_item_once(tmp_path: Path) -> None:
    store = await SQLiteStore.open(f"sqlite:///{tmp_path / 'store.db'}")
    try:
        for n in range(10):
            await store.enqueue("q", f"item{n}", b"p")
        before = store.commits
        taken = await asyncio.gather(
            *[store.lease("q", visibility_timeout=60, limit=3) for _ in range(6)]
        )
        assert store.commits - before <= 2
        ids = [lease.item_id for leases in taken for lease in leases]
        assert sorted(ids) == sorted(f"item{n}" for n in range(10))
    finally:
        await store.close()


@pytest.mark.parametrize("where", list(SQLITE_PLACEMENTS))
async def test_a_failing_unit_rolls_back_alone(tmp_path: Path, where: str) -> None:
    conn = await SQLiteConnection.open(
        str(tmp_path / "units.db"), busy_timeout=1.0, **SQLITE_PLACEMENTS[where]
    )
    await conn.run("CREATE TABLE t (n INTEGER PRIMARY KEY)", ())

    def inserting(*numbers: int, then: str | None = None, fail: bool = False) -> Unit[int]:
        def unit(db: sqlite3.Connection) -> int:
            for n in numbers:
                db.execute("INSERT INTO t (n) VALUES (?)", (n,))
            if then is not None:
                db.execute(then)
            if fail:
                raise ValueError("the unit changed its mind")
            return sum(numbers)

        return unit

    try:
        before = conn.commits
        outcomes = await asyncio.gather(
            conn.write(inserting(1)),
            conn.write(inserting(2, 3, fail=True)),
            conn.write(inserting(4, 5, then="INSERT INTO nowhere VALUES (1)")),
            conn.write(inserting(6, 1)),  # 1 is taken by the first unit: its 6 goes too
            conn.write(inserting(7, 8)),
            conn.run("INSERT INTO t (n) VALUES (9)", ()),  # one statement: no savepoint
            conn.run("INSERT INTO t (n) VALUES (7)", ()),  # fails alone
            conn.run("INSERT INTO t (n) VALUES (10)", ()),
            return_exceptions=True,
        )
        # The eight arrive in one turn of the loop and share one commit,
        # wherever it runs.
        assert conn.commits == before + 1
        assert outcomes[0] == 1 and outcomes[4] == 15
        assert outcomes[5] == 1 and outcomes[7] == 1
        assert isinstance(outcomes[6], Exception) and "UNIQUE" in str(outcomes[6])
        assert isinstance(outcomes[1], ValueError)
        assert isinstance(outcomes[2], Exception) and "nowhere" in str(outcomes[2])
        assert isinstance(outcomes[3], Exception) and "UNIQUE" in str(outcomes[3])
        assert await conn.rows("SELECT n FROM t ORDER BY n", ()) == [(1,), (7,), (8,), (9,), (10,)]
    finally:
        await conn.close()


@pytest.mark.parametrize("alone", [True, False])
async def test_a_cancelled_caller_leaves_the_others_alone(tmp_path: Path, alone: bool) -> None:
    store = await SQLiteStore.open(f"sqlite:///{tmp_path / 'store.db'}")
    try:
        others = [] if alone else [asyncio.ensure_future(store.set("ns", "b", b"2"))]
        cancelled = asyncio.ensure_future(store.set("ns", "a", b"1"))
        await asyncio.sleep(0)
        cancelled.cancel()
        await asyncio.gather(*others)
        with pytest.raises(asyncio.CancelledError):
            await cancelled
        # The store stays usable, and a write already handed over still lands.
        await store.set("ns", "c", b"3")
        assert await store.get("ns", "c") == b"3"
        if not alone:
            assert await store.get("ns", "b") == b"2"
    finally:
        await store.close()


@pytest.mark.parametrize("where", list(SQLITE_PLACEMENTS))
async def test_a_failing_commit_fails_every_unit_and_writes_nothing(
    tmp_path: Path, where: str
) -> None:
    """A ``COMMIT`` refused (here a deferred foreign key left dangling, which
    SQLite checks at the commit and then leaves the transaction open
    [src: sqlite.org foreignkeys.html "Deferred Foreign Key Constraints"])
    fails each unit of its batch, wherever the commit ran, and nothing of
    the batch is written; the next batch commits."""
    conn = await SQLiteConnection.open(
        str(tmp_path / "commit.db"), busy_timeout=1.0, **SQLITE_PLACEMENTS[where]
    )
    await conn.run("PRAGMA foreign_keys = ON", ())
    await conn.run("CREATE TABLE parent (id INTEGER PRIMARY KEY)", ())
    await conn.run(
        "CREATE TABLE child (id INTEGER PRIMARY KEY,"
        " parent INTEGER REFERENCES parent (id) DEFERRABLE INITIALLY DEFERRED)",
        (),
    )
    try:
        outcomes = await asyncio.gather(
            conn.run("INSERT INTO parent (id) VALUES (1)", ()),
            conn.run("INSERT INTO child (id, parent) VALUES (1, 99)", ()),  # no parent 99
            return_exceptions=True,
        )
        assert all(
            isinstance(o, sqlite3.IntegrityError) and "FOREIGN KEY" in str(o) for o in outcomes
        ), outcomes
        assert await conn.rows("SELECT count(*) FROM parent", ()) == [(0,)]
        assert await conn.rows("SELECT count(*) FROM child", ()) == [(0,)]
        await asyncio.gather(
            conn.run("INSERT INTO parent (id) VALUES (2)", ()),
            conn.run("INSERT INTO child (id, parent) VALUES (2, 2)", ()),
        )
        assert await conn.rows("SELECT id, parent FROM child", ()) == [(2, 2)]
    finally:
        await conn.close()
