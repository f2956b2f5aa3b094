"""``opencx-salesforce emulator --tls`` as a person runs it: HTTPS with a loopback
certificate, the CA file to trust printed, https instance URLs in its tokens."""

from __future__ import annotations

import asyncio
import os
import signal
import ssl
import sys
from pathlib import Path

import aiohttp
import pytest

from opencx_salesforce.cli import main
from opencx_salesforce.emulator.seed import DEMO_CLIENT_ID, DEMO_CLIENT_SECRET

CONSOLE_SCRIPT = Path(sys.executable).with_name("opencx-salesforce")


def test_tls_dir_needs_tls(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    assert main(["emulator", "--tls-dir", str(tmp_path)]) == 2
    assert "--tls-dir: needs --tls" in capsys.readouterr().err


async def test_tls_serves_https_and_prints_the_ca(tmp_path: Path) -> None:
    tls_dir = tmp_path / "tls"
    process = await asyncio.create_subprocess_exec(
        str(CONSOLE_SCRIPT),
        "emulator",
        "--port",
        "0",
        "--tls",
        "--tls-dir",
        str(tls_dir),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env={k: v for k, v in os.environ.items() if not k.startswith("OPENCX_")},
    )
    try:
        assert process.stdout is not None
        first = (await asyncio.wait_for(process.stdout.readline(), timeout=30)).decode()
        assert first.startswith("Salesforce emulator listening on https://127.0.0.1:"), first
        base_url = first.split()[-1]
        banner = (await asyncio.wait_for(process.stdout.readuntil(b"Ctrl-C"), 10)).decode()
        ca_file = tls_dir / "emulator-ca.pem"
        assert f"TLS CA to trust:  {ca_file}" in banner
        assert f"NODE_EXTRA_CA_CERTS={ca_file}" in banner
        assert f"REQUESTS_CA_BUNDLE={ca_file}" in banner

        trusting = aiohttp.TCPConnector(ssl=ssl.create_default_context(cafile=str(ca_file)))
        async with aiohttp.ClientSession(connector=trusting) as http:
            async with http.post(
                f"{base_url}/services/oauth2/token",
                data={
                    "grant_type": "client_credentials",
                    "client_id": DEMO_CLIENT_ID,
                    "client_secret": DEMO_CLIENT_SECRET,
                },
            ) as response:
                token = await response.json()
            assert token["instance_url"] == base_url
            async with http.get(
                f"{token['instance_url']}/services/data/v62.0/limits",
                headers={"Authorization": f"Bearer {token['access_token']}"},
            ) as response:
                assert response.status == 200

        process.send_signal(signal.SIGINT)
        assert await asyncio.wait_for(process.wait(), timeout=30) == 0
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
