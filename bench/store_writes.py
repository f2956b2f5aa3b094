"""The SQLite store on its own: how many writes a second it takes when
callers each make a handoff's writes in a row (an upsert, a set-if-absent, a
compare-and-set, a ``set_many`` of two keys, an ``enqueue_leased``, a
compare-and-delete, a delete and an ``ack``), at several concurrencies, on a
file in a temporary directory (WAL, ``synchronous=FULL``).

    .venv/bin/python bench/store_writes.py                   # 1, 10, 100, 400 callers, 3 s each
    .venv/bin/python bench/store_writes.py --callers 10 --seconds 5

Prints one line a concurrency: writes a second, writes a group commit, and the
process's CPU a write. No Salesforce, no host: the store's own ceiling, the
figure a change to its group commit moves (``profile_notes.md``, session 11).
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from dataclasses import dataclass

from opencx_salesforce.store.sqlite import SQLiteStore

WRITES_A_ROUND = 8


@dataclass
class Ceiling:
    callers: int
    writes: int
    seconds: float
    commits: int
    cpu_seconds: float

    def line(self) -> str:
        return (
            f"{self.callers:4d} callers: {self.writes / self.seconds:8.0f} writes/s, "
            f"{self.writes / max(self.commits, 1):5.1f} writes a commit, "
            f"CPU {1e6 * self.cpu_seconds / max(self.writes, 1):.1f} µs a write"
        )


async def _caller(store: SQLiteStore, caller: int, until: float, done: list[int]) -> None:
    round_ = 0
    while time.perf_counter() < until:
        key = f"c{caller}:{round_}"
        await store.set("session", key, b"x" * 2000)
        await store.set_if_absent("lock", key, b"held", ttl=30)
        await store.compare_and_set("session", key, b"x" * 2000, b"y" * 2100)
        await store.set_many("index", {key + ":a": b"1", key + ":b": b"2"})
        lease = await store.enqueue_leased("jobs", key, b"job", visibility_timeout=60)
        assert lease is not None
        await store.compare_and_set("lock", key, b"held", None)
        await store.delete("session", key)
        await store.ack(lease)
        done[0] += WRITES_A_ROUND
        round_ += 1


async def measure(callers: int, seconds: float) -> Ceiling:
    with tempfile.TemporaryDirectory() as directory:
        store = await SQLiteStore.open(f"sqlite:///{directory}/writes.db")
        try:
            done = [0]
            commits = store.commits
            started, cpu = time.perf_counter(), time.process_time()
            until = started + seconds
            await asyncio.gather(*(_caller(store, n, until, done) for n in range(callers)))
            return Ceiling(
                callers,
                done[0],
                time.perf_counter() - started,
                store.commits - commits,
                time.process_time() - cpu,
            )
        finally:
            await store.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--callers", type=int, action="append")
    parser.add_argument("--seconds", type=float, default=3.0)
    args = parser.parse_args()
    for callers in args.callers or [1, 10, 100, 400]:
        print(asyncio.run(measure(callers, args.seconds)).line(), flush=True)


if __name__ == "__main__":
    main()
