"""One OS process racing others on one SQLite file; run by test_store_sqlite.py.

Usage: ``python sqlite_race_worker.py URL NAME``. Prints ``ready`` once its store
is open, waits for a line on stdin (the starting gun, so every process races at
once), then races and prints one JSON line with what it won.
"""

from __future__ import annotations

import asyncio
import json
import sys

from opencx_salesforce.store.sqlite import SQLiteStore

INCREMENTS = 10


async def race(url: str, name: str) -> dict[str, object]:
    store = await SQLiteStore.open(url)
    try:
        print("ready", flush=True)
        await asyncio.to_thread(sys.stdin.readline)
        won = await store.set_if_absent("locks", "case", name.encode())
        for _ in range(INCREMENTS):
            while True:
                current = await store.get("counters", "n")
                new = str(int(current or b"0") + 1).encode()
                if await store.compare_and_set("counters", "n", current, new):
                    break
        leased = []
        while leases := await store.lease("work", visibility_timeout=60, limit=2):
            for lease in leases:
                leased.append(lease.item_id)
                if not await store.ack(lease):
                    raise AssertionError(f"{name} could not ack its own lease {lease}")
        return {"won": won, "leased": leased}
    finally:
        await store.close()


if __name__ == "__main__":
    print(json.dumps(asyncio.run(race(sys.argv[1], sys.argv[2]))), flush=True)
