"""The store's own cost per handoff, operation by operation: the in-process
handoff benchmark (``bench_handoff.run``) at 0 ms, 20 messages, 1, 10 and 100
concurrent, on SQLite, Redis and PostgreSQL.

    .venv/bin/python bench/store_cost.py     # prints a Markdown table (bench/POSTGRES.md)
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import bench_handoff


async def main() -> None:
    print("| store | concurrent | store calls/handoff | DB round trips/handoff | by operation |")
    print("|---|---|---|---|---|")
    for store in ("sqlite", "redis", "postgres"):
        for concurrency, handoffs in ((1, 30), (10, 200), (100, 1000)):
            result = await bench_handoff.run(0.0, 20, concurrency, handoffs, store=store)
            by_operation = result.store_calls_by_operation or {}
            ops = ", ".join(f"{name} {count:.1f}" for name, count in by_operation.items())
            trips = result.round_trips_per_handoff
            print(
                f"| {store} | {concurrency} | {result.store_calls_per_handoff:.1f} "
                f"| {'—' if trips is None else f'{trips:.1f}'} | {ops} |"
            )


if __name__ == "__main__":
    asyncio.run(main())
