"""How fast a job queued on one host instance wakes a waiting worker on another,
through PostgreSQL's LISTEN/NOTIFY: two stores, each on its own pool (as two
instances would be), the waiter's fallback poll set to 10 minutes so only the
notification can wake it.

    .venv/bin/python bench/postgres_wakeup.py [--trials 50]

Prints the wake-up latency (from the start of ``enqueue`` to ``wait`` returning)
(one run of this script is recorded in bench/POSTGRES.md).
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import asyncpg
from store_choice import POSTGRES_URL

from opencx_salesforce.store.postgres import PostgresStore


async def main(trials: int) -> None:
    schema = f"opencx_bench_{uuid.uuid4().hex[:8]}"
    url = f"{POSTGRES_URL}?schema={schema}"
    waiter_store = await PostgresStore.open(url + "&poll=600")
    producer = await PostgresStore.open(url)
    latencies: list[float] = []
    try:
        await waiter_store.wait("q", 0.01)  # starts LISTEN
        for n in range(trials):
            waiter = asyncio.create_task(waiter_store.wait("q", 600))
            await asyncio.sleep(0.02)  # the waiter is asleep on its event
            started = time.perf_counter()
            await producer.enqueue("q", f"job-{n}", b"")
            await asyncio.wait_for(waiter, 10)
            latencies.append((time.perf_counter() - started) * 1000)
            [lease] = await waiter_store.lease("q", visibility_timeout=60)
            await waiter_store.ack(lease)
    finally:
        await waiter_store.close()
        await producer.close()
        conn = await asyncpg.connect(POSTGRES_URL)
        try:
            await conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        finally:
            await conn.close()
    ordered = sorted(latencies)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    print(
        f"NOTIFY wake-up across two stores, {trials} trials: p50 "
        f"{statistics.median(latencies):.1f} ms, p95 {p95:.1f} ms, max {ordered[-1]:.1f} ms "
        "(enqueue's own round trip included)"
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=50)
    asyncio.run(main(parser.parse_args().trials))
