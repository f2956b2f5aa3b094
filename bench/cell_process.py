"""Run one measurement in this process and print its result as JSON.

    python bench/cell_process.py BASE_URL '{"contender": "plugin", "latency_ms": 0, ...}'

``run_all.py`` starts one such process per measurement, so that each peak RSS
belongs to one contender doing one thing, and nothing one measurement leaves
behind (threads, pools, garbage) slows the next.
"""

from __future__ import annotations

import asyncio
import json
import logging
import sys
from collections.abc import Callable

from handoff_workload import CellResult, CellSpec

RESULT = "RESULT "


def _plugin(spec: CellSpec, base_url: str) -> CellResult:
    import contender_plugin

    return asyncio.run(contender_plugin.run_cell(spec, base_url))


def _simple_salesforce(spec: CellSpec, base_url: str) -> CellResult:
    import contender_simple_salesforce

    return contender_simple_salesforce.run_cell(spec, base_url)


def _simple_salesforce_collections(spec: CellSpec, base_url: str) -> CellResult:
    import contender_simple_salesforce as contender

    return contender.run_cell(spec, base_url, contender.Collections)


def _aiohttp(spec: CellSpec, base_url: str) -> CellResult:
    import contender_aiohttp

    return asyncio.run(contender_aiohttp.run_cell(spec, base_url))


def _aiohttp_collections(spec: CellSpec, base_url: str) -> CellResult:
    import contender_aiohttp as contender

    return asyncio.run(contender.run_cell(spec, base_url, contender.CollectionsAsync))


RUNNERS: dict[str, Callable[[CellSpec, str], CellResult]] = {
    "plugin": _plugin,  # on SQLite, its default store
    "plugin+memory": _plugin,
    "plugin+redis": _plugin,
    "plugin+postgres": _plugin,
    "simple-salesforce": _simple_salesforce,
    "aiohttp": _aiohttp,
    "simple-salesforce+collections": _simple_salesforce_collections,
    "aiohttp+collections": _aiohttp_collections,
}


def main(argv: list[str]) -> int:
    base_url, raw = argv
    spec = CellSpec(**json.loads(raw))
    # The plugin's warnings (its dev-mode key notice) are not results.
    logging.basicConfig(level=logging.ERROR)
    result = RUNNERS[spec.contender](spec, base_url)
    print(RESULT + json.dumps(result.to_json()), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
