"""What only the SQLite store has: URL to file mapping, WAL, waiting for a locked
file, lazy purging, and several OS processes sharing one file."""

from __future__ import annotations

import asyncio
import json
import sqlite3
import sys
import threading
import time
from collections import Counter
from pathlib import Path

import pytest
from sqlite_race_worker import INCREMENTS
from store_backends import SQLITE_PLACEMENTS

from opencx_salesforce.store import open_store
from opencx_salesforce.store.sqlite import SQLiteStore, database_from_url

WORKER = Path(__file__).with_name("sqlite_race_worker.py")


@pytest.mark.parametrize(
    ("url", "database"),
    [
        ("sqlite:///relative.db", "relative.db"),
        ("sqlite:///data/store.db", "data/store.db"),
        ("sqlite:////abs/path.db", "/abs/path.db"),
        ("sqlite:///:memory:", ":memory:"),
        ("SQLite:///x.db", "x.db"),
    ],
)
def test_url_maps_to_a_database(url: str, database: str) -> None:
    assert database_from_url(url) == database


@pytest.mark.parametrize("url", ["sqlite://", "sqlite:///", "sqlite://host/x.db", "sqlite:x.db"])
def test_a_malformed_url_is_refused(url: str) -> None:
    with pytest.raises(ValueError, match="sqlite:///"):
        database_from_url(url)


async def test_relative_and_absolute_urls_open_those_files(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    relative = await open_store("sqlite:///relative.db")
    absolute = await open_store(f"sqlite:///{tmp_path / 'absolute.db'}")
    try:
        await relative.set("ns", "k", b"relative")
        await absolute.set("ns", "k", b"absolute")
    finally:
        await relative.close()
        await absolute.close()
    for name in ["relative", "absolute"]:
        with sqlite3.connect(tmp_path / f"{name}.db") as db:
            assert db.execute("PRAGMA journal_mode").fetchone() == ("wal",)
            assert db.execute("SELECT value FROM kv").fetchall() == [(name.encode(),)]


async def test_in_memory_databases_are_private() -> None:
    first = await open_store("sqlite:///:memory:")
    second = await open_store("sqlite:///:memory:")
    try:
        await first.set("ns", "k", b"v")
        await first.enqueue("q", "job", b"")
        assert await second.get("ns", "k") is None
        assert [item.item_id for item in await first.items("q")] == ["job"]
    finally:
        await first.close()
        await second.close()


def _hold_write_lock(path: Path, seconds: float, locked: threading.Event) -> None:
    with sqlite3.connect(path, isolation_level=None) as db:
        db.execute("BEGIN IMMEDIATE")
        locked.set()
        time.sleep(seconds)
        db.execute("COMMIT")


async def test_a_locked_file_is_waited_for_until_busy_timeout(tmp_path: Path) -> None:
    path = tmp_path / "store.db"
    patient = await SQLiteStore.open(f"sqlite:///{path}")
    hasty = await SQLiteStore.open(f"sqlite:///{path}", busy_timeout=0.1)
    try:
        locked = threading.Event()
        holder = asyncio.create_task(asyncio.to_thread(_hold_write_lock, path, 0.4, locked))
        await asyncio.to_thread(locked.wait)
        with pytest.raises(sqlite3.OperationalError, match="locked"):
            await hasty.set("ns", "k", b"hasty")
        started = time.monotonic()
        assert await patient.set_if_absent("ns", "k", b"patient") is True
        assert time.monotonic() - started > 0.1  # it waited for the lock
        await holder
        assert await hasty.get("ns", "k") == b"patient"
    finally:
        await patient.close()
        await hasty.close()


@pytest.mark.parametrize("where", list(SQLITE_PLACEMENTS))
async def test_a_batch_that_finds_the_lock_taken_waits_off_the_loop(
    tmp_path: Path, where: str
) -> None:
    """Writes that go together while another process holds the write lock
    wait for it on the writer's thread, wherever their batch was to run: the
    loop keeps turning meanwhile, and both land once the lock is free."""
    path = tmp_path / "store.db"
    store = await SQLiteStore.open(f"sqlite:///{path}", **SQLITE_PLACEMENTS[where])
    try:
        await store.set("ns", "warm", b"up")
        locked = threading.Event()
        holder = asyncio.create_task(asyncio.to_thread(_hold_write_lock, path, 0.3, locked))
        await asyncio.to_thread(locked.wait)
        ticks = 0

        async def ticking() -> None:
            nonlocal ticks
            while True:
                await asyncio.sleep(0.01)
                ticks += 1

        ticker = asyncio.create_task(ticking())
        started = time.monotonic()
        await asyncio.gather(store.set("ns", "a", b"1"), store.set("ns", "b", b"2"))
        waited = time.monotonic() - started
        ticker.cancel()
        await holder
        assert waited > 0.15  # they waited for the lock
        assert ticks >= 10  # and the loop did not
        assert await store.get("ns", "a") == b"1" and await store.get("ns", "b") == b"2"
    finally:
        await store.close()


async def test_expired_rows_are_purged_lazily(tmp_path: Path) -> None:
    path = tmp_path / "store.db"
    store = await SQLiteStore.open(f"sqlite:///{path}", purge_interval=0)
    try:
        for n in range(10):
            await store.set("ns", f"k{n}", b"v", ttl=0.1)
        await asyncio.sleep(0.2)
        await store.set("ns", "live", b"v")
    finally:
        await store.close()
    with sqlite3.connect(path) as db:
        assert db.execute("SELECT key FROM kv").fetchall() == [("live",)]


async def test_separate_processes_share_one_file_safely(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'shared.db'}"
    items = [f"job-{n:02}" for n in range(60)]
    setup = await SQLiteStore.open(url)
    for item_id in items:
        await setup.enqueue("work", item_id, b"")
    await setup.close()

    processes = [
        await asyncio.create_subprocess_exec(
            sys.executable,
            str(WORKER),
            url,
            f"process-{n}",
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
        )
        for n in range(6)
    ]
    try:
        for process in processes:
            assert process.stdout is not None
            ready = await asyncio.wait_for(process.stdout.readline(), 20)
            assert ready.strip() == b"ready"
        for process in processes:  # the starting gun: all race at once
            assert process.stdin is not None
            process.stdin.write(b"go\n")
            await process.stdin.drain()
        outputs = [await asyncio.wait_for(process.communicate(), 20) for process in processes]
    finally:
        for process in processes:
            if process.returncode is None:
                process.kill()
                await process.wait()
    assert [process.returncode for process in processes] == [0] * len(processes)
    results = [json.loads(stdout) for stdout, _ in outputs]

    assert [result["won"] for result in results].count(True) == 1
    leased = Counter(item for result in results for item in result["leased"])
    assert sorted(leased) == items
    assert set(leased.values()) == {1}
    after = await SQLiteStore.open(url)
    try:
        assert await after.get("counters", "n") == str(INCREMENTS * len(processes)).encode()
        assert await after.items("work") == []
    finally:
        await after.close()


async def test_a_file_that_cannot_be_opened_is_an_error_at_open(tmp_path: Path) -> None:
    # The connection opens on its own thread; its failure reaches the opener
    # (here the path is a folder; a missing folder is named before SQLite opens).
    (tmp_path / "a folder.db").mkdir()
    with pytest.raises(sqlite3.OperationalError, match="unable to open"):
        await SQLiteStore.open(f"sqlite:///{tmp_path / 'a folder.db'}")


async def test_the_store_stays_usable_while_another_process_holds_the_lock(
    tmp_path: Path,
) -> None:
    """Waiting for the lock happens on the writer's thread: the event loop runs
    on, reads answer meanwhile, and the writes queued behind the wait land."""
    path = tmp_path / "store.db"
    store = await SQLiteStore.open(f"sqlite:///{path}")
    try:
        await store.set("ns", "before", b"1")
        locked = threading.Event()
        holder = asyncio.create_task(asyncio.to_thread(_hold_write_lock, path, 0.3, locked))
        await asyncio.to_thread(locked.wait)
        writes = asyncio.gather(*(store.set("ns", f"k{n}", b"v") for n in range(5)))
        ticks = 0
        while not writes.done():
            assert await store.get("ns", "before") == b"1"  # reads are not held up
            ticks += 1
            await asyncio.sleep(0.01)
        await writes
        await holder
        assert ticks >= 10  # the loop ran on through the wait
        assert [await store.get("ns", f"k{n}") for n in range(5)] == [b"v"] * 5
    finally:
        await store.close()
