"""``opencx-salesforce emulator`` as a person runs it: a subprocess that prints how to
reach it, serves OAuth and REST, and stops on Ctrl-C."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from pathlib import Path

import aiohttp
import pytest

from opencx_salesforce.cli import main
from opencx_salesforce.emulator.seed import DEMO_CLIENT_ID, DEMO_CLIENT_SECRET

CONSOLE_SCRIPT = Path(sys.executable).with_name("opencx-salesforce")


def test_refuses_a_non_loopback_host(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["emulator", "--host", "0.0.0.0"]) == 2
    assert "not a loopback address" in capsys.readouterr().err


async def test_the_command_serves_until_interrupted() -> None:
    process = await asyncio.create_subprocess_exec(
        str(CONSOLE_SCRIPT),
        "emulator",
        "--port",
        "0",
        "--callback-url",
        "http://127.0.0.1:9/callback",
        "--session-timeout",
        "600",
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env={k: v for k, v in os.environ.items() if not k.startswith("OPENCX_")},
    )
    try:
        assert process.stdout is not None
        first = (await asyncio.wait_for(process.stdout.readline(), timeout=30)).decode()
        assert first.startswith("Salesforce emulator listening on http://127.0.0.1:"), first
        base_url = first.split()[-1]
        banner = (await asyncio.wait_for(process.stdout.readuntil(b"Ctrl-C"), 10)).decode()
        for expected in (
            f"login URL:        {base_url}",
            DEMO_CLIENT_ID,
            DEMO_CLIENT_SECRET,
            "http://127.0.0.1:9/callback",
            "rep@acme.example / rep-password",
            f"{base_url}/_emulator/orgs/",
            "600 s",
        ):
            assert expected in banner, expected

        async with aiohttp.ClientSession() as http:
            async with http.post(
                f"{base_url}/services/oauth2/token",
                data={
                    "grant_type": "client_credentials",
                    "client_id": DEMO_CLIENT_ID,
                    "client_secret": DEMO_CLIENT_SECRET,
                },
            ) as response:
                token = (await response.json())["access_token"]
                assert response.status == 200
            async with http.get(
                f"{base_url}/services/data/v62.0/limits",
                headers={"Authorization": f"Bearer {token}"},
            ) as response:
                assert response.status == 200
            async with http.get(f"{base_url}/_emulator/") as response:
                assert response.status == 200 and "Acme Support" in await response.text()

        process.send_signal(signal.SIGINT)
        assert await asyncio.wait_for(process.wait(), timeout=30) == 0
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
