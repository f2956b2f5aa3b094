"""Emulator throughput: how many Case-create composite requests per second the
local Salesforce serves on this machine, so the other benchmarks know it is not
their bottleneck.

    .venv/bin/python bench/bench_emulator.py [--seconds 5] [--clients 1 8 32]

The emulator runs in a process of its own (bench/emulator_process.py); clients
send the plugin's handoff shape — a Case upsert on the external-id field plus 5
CaseComments through sObject Collections — over loopback HTTP, each request with
a new session id (every request creates a Case).
"""

from __future__ import annotations

import argparse
import asyncio
import time
import uuid

import aiohttp
from emulator_process import BenchOrg, EmulatorControl, EmulatorProcess


def composite_body(session_id: str) -> dict[str, object]:
    return {
        "allOrNone": False,
        "compositeRequest": [
            {
                "method": "PATCH",
                "url": f"/services/data/v62.0/sobjects/Case/OpenCX_Session_Id__c/{session_id}",
                "referenceId": "refCase",
                "body": {"Subject": "Parcel missing", "Case_From__c": "opencx"},
            },
            {
                "method": "POST",
                "url": "/services/data/v62.0/composite/sobjects",
                "referenceId": "refComments",
                "body": {
                    "allOrNone": True,
                    "records": [
                        {
                            "attributes": {"type": "CaseComment"},
                            "ParentId": "@{refCase.id}",
                            "CommentBody": f"message {n} of the transcript",
                        }
                        for n in range(5)
                    ],
                },
            },
        ],
    }


async def token_for(http: aiohttp.ClientSession, org: BenchOrg) -> str:
    async with http.post(
        f"{org.base_url}/services/oauth2/token",
        data={
            "grant_type": "client_credentials",
            "client_id": org.client_id,
            "client_secret": org.client_secret,
        },
    ) as response:
        response.raise_for_status()
        return str((await response.json())["access_token"])


async def measure(base_url: str, clients: int, seconds: float) -> tuple[int, float, float]:
    """(requests, requests/s, emulator CPU seconds per request)."""
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=clients)) as http:
        control = EmulatorControl(base_url, http)
        org = await control.new_org()
        headers = {"Authorization": f"Bearer {await token_for(http, org)}"}
        url = f"{base_url}/services/data/v62.0/composite"
        done = 0
        cpu_before = await control.cpu_seconds()
        deadline = time.perf_counter() + seconds
        started = time.perf_counter()

        async def client() -> None:
            nonlocal done
            while time.perf_counter() < deadline:
                body = composite_body(uuid.uuid4().hex)
                async with http.post(url, json=body, headers=headers) as response:
                    answer = await response.json()
                    assert response.status == 200, answer
                    assert answer["compositeResponse"][0]["httpStatusCode"] == 201, answer
                done += 1

        await asyncio.gather(*[client() for _ in range(clients)])
        elapsed = time.perf_counter() - started
        cpu = await control.cpu_seconds() - cpu_before
        await control.drop_org(org)
        return done, done / elapsed, cpu / max(done, 1)


def table(rows: list[tuple[int, int, float, float]]) -> str:
    lines = [
        "| concurrent clients | requests | Case-create composites/s | emulator CPU ms/request |",
        "|---|---|---|---|",
    ]
    for clients, count, rate, cpu in rows:
        lines.append(f"| {clients} | {count} | {rate:.0f} | {cpu * 1000:.2f} |")
    return "\n".join(lines)


async def run(base_url: str, clients: list[int], seconds: float) -> str:
    rows = []
    for n in clients:
        count, rate, cpu = await measure(base_url, n, seconds)
        rows.append((n, count, rate, cpu))
    return table(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--clients", type=int, nargs="+", default=[1, 8, 32])
    args = parser.parse_args()
    with EmulatorProcess() as emulator:
        print(asyncio.run(run(emulator.base_url, args.clients, args.seconds)))


if __name__ == "__main__":
    main()
