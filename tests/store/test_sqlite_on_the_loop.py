"""Where the SQLite store's work runs: quick commits and reads on the event
loop itself, slow ones on the connections' threads; the WAL's checkpoints on
the writer's thread, often enough to keep the WAL bounded."""

from __future__ import annotations

import asyncio
import logging
import sqlite3
import threading
from pathlib import Path

import pytest

from opencx_salesforce.store._sqlite_checkpoints import CHECKPOINT_PAGES, CheckpointSchedule
from opencx_salesforce.store._sqlite_connection import SQLiteConnection, _moved
from opencx_salesforce.store._sqlite_pace import Pace
from opencx_salesforce.store.sqlite import SQLiteStore


def _thread(db: sqlite3.Connection) -> int:
    return threading.get_ident()


@pytest.mark.parametrize("on_threads", [False, True])
async def test_quick_work_runs_on_the_loop_and_slow_work_on_threads(
    tmp_path: Path, on_threads: bool
) -> None:
    # loop_limit=0 stands for a disk whose every commit is slow, 10 s for one
    # whose commits are all quick (the real limit would depend on this disk).
    conn = await SQLiteConnection.open(
        str(tmp_path / "where.db"), busy_timeout=1.0, loop_limit=0.0 if on_threads else 10.0
    )
    await conn.run("PRAGMA journal_mode = WAL", ())
    await conn.attach_file(str(tmp_path / "where.db"))
    # Each connection tells the read which thread it runs on.
    assert conn._reader is not None
    for side in (conn._writer, conn._reader):
        side.connection.create_function("thread", 0, threading.get_ident)
    try:
        loop = threading.get_ident()
        writes = {await conn.write(_thread) for _ in range(3)}
        reads = {(await conn.rows("SELECT thread()", ()))[0][0] for _ in range(3)}
        if on_threads:
            assert loop not in writes | reads and len(writes) == len(reads) == 1
            assert writes != reads  # the writer's thread and the reader's
        else:
            assert writes == reads == {loop}
    finally:
        await conn.close()


async def test_reads_between_batches_use_the_writers_warm_connection(tmp_path: Path) -> None:
    """Between batches a read goes to the writing connection, whose page cache
    the other's commits do not empty (SQLite empties a connection's cache when
    the WAL changed since its last read); while a batch commits on the writer's
    thread, the reader's connection serves it, and it sees only what is
    committed."""
    path = str(tmp_path / "warm.db")
    conn = await SQLiteConnection.open(path, busy_timeout=1.0, loop_limit=10.0)
    await conn.run("PRAGMA journal_mode = WAL", ())
    await conn.run("CREATE TABLE t (v INTEGER)", ())
    await conn.attach_file(path)
    assert conn._reader is not None
    for name, side in (("writer", conn._writer), ("reader", conn._reader)):
        side.connection.create_function("side", 0, lambda name=name: name)
    try:
        await conn.run("INSERT INTO t VALUES (1)", ())
        assert await conn.rows("SELECT side(), count(*) FROM t", ()) == [("writer", 1)]

        # A batch holds the writer's thread, its transaction open and not committed.
        holding, release = threading.Event(), threading.Event()

        def uncommitted(db: sqlite3.Connection) -> None:
            db.execute("BEGIN IMMEDIATE")
            db.execute("INSERT INTO t VALUES (2)")
            holding.set()
            release.wait(5)
            db.execute("COMMIT")

        done = asyncio.get_running_loop().create_future()
        conn._writer.submit(uncommitted, lambda ok, value: done.set_result(ok))
        await asyncio.to_thread(holding.wait, 5)
        assert await conn.rows("SELECT side(), count(*) FROM t", ()) == [("reader", 1)]
        release.set()
        assert await done
        assert await conn.rows("SELECT side(), count(*) FROM t", ()) == [("writer", 2)]
    finally:
        await conn.close()


def test_slow_commits_leave_the_loop_and_a_quick_probe_brings_them_back() -> None:
    now = [0.0]
    pace = Pace(0.001, probe_every=1.0, clock=lambda: now[0])
    for _ in range(50):
        pace.took(0.0002)  # a local SSD's commit
    assert pace.on_loop
    assert not pace.took(0.007)  # a lone slow fsync, as local disks show now and then
    assert pace.quick
    moved = [pace.took(0.002) for _ in range(20)]  # a disk whose commits run slow
    assert moved.count(True) == 1 and 5 <= moved.index(True) <= 15
    assert not pace.quick and not pace.on_loop  # the next ones go to the thread
    now[0] += 0.5
    assert not pace.on_loop
    now[0] += 0.5
    assert pace.on_loop  # a probe is due
    assert not pace.took(0.002)  # a slow probe: the work stays on the thread
    assert not pace.on_loop
    now[0] += 1.0
    assert pace.on_loop and pace.took(0.0002)  # a quick probe: back on the loop
    assert pace.quick and pace.on_loop


def test_a_pace_moving_back_and_forth_gets_an_info_line_every_ten_minutes(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A disk whose commits sit at the limit moves them between the loop and
    the thread every few seconds (a soak logged 232 such lines in 27 minutes):
    one INFO line in ten minutes, counting the moves, the others at DEBUG."""
    now = [0.0]
    pace = Pace(0.001, probe_every=1.0, clock=lambda: now[0])
    caplog.set_level(logging.DEBUG, logger="opencx_salesforce.store._sqlite_connection")
    for _ in range(31):
        _moved("commits", pace)
        now[0] += 20.0
    info = [r.getMessage() for r in caplog.records if r.levelno == logging.INFO]
    debug = [r.getMessage() for r in caplog.records if r.levelno == logging.DEBUG]
    assert len(info) == 2 and len(debug) == 29
    assert info[0].endswith("from now on")  # the first move, as before
    assert "they moved 30 times in the last 10 minutes" in info[1]
    assert "near the 1.0 ms limit" in info[1]


def test_a_limit_of_zero_never_tries_the_loop() -> None:
    now = [0.0]
    pace = Pace(0.0, clock=lambda: now[0])
    now[0] += 3600
    assert not pace.on_loop


def test_checkpoints_fall_due_about_every_thousand_pages() -> None:
    schedule = CheckpointSchedule()
    first = schedule.every
    for _ in range(first - 1):
        schedule.committed()
    assert not schedule.due
    schedule.committed()
    assert schedule.due
    schedule.checkpointed(wal_pages=5 * first)  # five pages a commit
    assert schedule.every == CHECKPOINT_PAGES // 5 and not schedule.due


async def test_the_wal_stays_bounded_with_commits_on_the_loop(tmp_path: Path) -> None:
    """The writer's automatic checkpoints are off (they would run inside a
    COMMIT on the loop); the store's own keep the WAL near SQLite's 1,000 pages.
    Without them this WAL would reach about 10,500 pages (2,000 commits of a
    new 8 kB row; measured with the sqlite3 module alone)."""
    path = tmp_path / "store.db"
    store = await SQLiteStore.open(f"sqlite:///{path}")
    try:
        value = bytes(range(256)) * 32  # 8 kB: two overflow pages and a leaf
        for n in range(2000):
            await store.set("ns", f"k{n}", value)
        pages = path.with_name("store.db-wal").stat().st_size / 4096
        assert store._conn.checkpoints >= 5
        assert pages < 2.5 * CHECKPOINT_PAGES
    finally:
        await store.close()
    reopened = await SQLiteStore.open(f"sqlite:///{path}")
    try:
        assert await reopened.get("ns", "k1999") == value
    finally:
        await reopened.close()


async def test_the_wal_stays_bounded_when_load_follows_an_idle_start(tmp_path: Path) -> None:
    """Found by a soak: the first checkpoint came after a hundred idle commits
    that wrote next to nothing (11 pages), so the schedule set the next one
    9,182 commits away; the load that followed grew the WAL to 118 MB. The
    WAL's size now calls a checkpoint too, and a reset WAL file is cut back."""
    path = tmp_path / "store.db"
    store = await SQLiteStore.open(f"sqlite:///{path}")
    try:
        for n in range(120):  # idle: deletes of nothing, each its own commit
            await store.delete("ns", f"absent{n}")
        value = bytes(range(256)) * 32  # 8 kB: two overflow pages and a leaf
        for n in range(3000):
            await store.set("ns", f"k{n}", value)
        pages = path.with_name("store.db-wal").stat().st_size / 4096
        assert pages < 2.5 * CHECKPOINT_PAGES
    finally:
        await store.close()


async def test_slow_commits_leave_the_loop_first_and_slow_statements_after(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A commit slower than the limit sends the next batches' ``COMMIT`` to
    the writer's thread while their statements stay on the loop; statements
    slower than their own limit send whole batches there, and each move is
    logged."""
    caplog.set_level(logging.INFO, logger="opencx_salesforce.store._sqlite_connection")
    # A limit no commit or statement meets: each timing on the loop moves work.
    conn = await SQLiteConnection.open(str(tmp_path / "slow.db"), busy_timeout=1.0, loop_limit=1e-9)
    commits: list[int] = []

    def traced(statement: str) -> None:
        if statement == "COMMIT":
            commits.append(threading.get_ident())

    conn._writer.connection.set_trace_callback(traced)
    loop = threading.get_ident()
    try:
        # Alone on the loop, timed there: commits run slow.
        assert await conn.write(_thread) == loop
        assert commits == [loop]
        assert "SQLite commits took" in caplog.text
        assert "statements" not in caplog.text
        # Its statements on the loop (timed: slow too), its COMMIT on the thread.
        assert await conn.write(_thread) == loop
        writer = commits[-1]
        assert commits == [loop, writer] and writer != loop
        assert "SQLite statements took" in caplog.text
        # Now the whole batch runs on the writer's thread.
        assert await conn.write(_thread) == writer
        assert commits == [loop, writer, writer]
    finally:
        await conn.close()
    assert "they run on the store's threads from now on" in caplog.text
