"""One spelling for the same thing across commands: --host and --port for
``serve`` and ``emulator``; the banners name pages that exist."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from pathlib import Path

import aiohttp
import pytest

from opencx_salesforce import __version__
from opencx_salesforce.cli import build_parser, main
from opencx_salesforce.emulator.cli_config import EmulatorOptions, describe, start_emulator

CONSOLE_SCRIPT = Path(sys.executable).with_name("opencx-salesforce")
ADMIN_TOKEN = "an-admin-token-for-the-cli-flag-tests"


def test_serve_and_emulator_take_host_and_port(capsys: pytest.CaptureFixture[str]) -> None:
    for command in ("serve", "emulator"):
        assert main([command, "--help"]) == 0
        out = capsys.readouterr().out
        assert "--host ADDRESS" in out and "--port" in out, out
        assert "--listen-host" not in out
    # The earlier spelling still works, as a hidden alias.
    parser = build_parser()
    old = parser.parse_args(["serve", "--config", "x.toml", "--listen-host", "0.0.0.0"])
    new = parser.parse_args(["serve", "--config", "x.toml", "--host", "0.0.0.0"])
    assert old.listen_host == new.listen_host == "0.0.0.0"


def test_version_flag(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--version"]) == 0
    assert capsys.readouterr().out.strip() == f"opencx-salesforce {__version__}"


async def test_the_serve_banner_names_a_settings_page_that_answers(tmp_path: Path) -> None:
    config = tmp_path / "host.toml"
    config.write_text(
        f'[host]\nadmin_token = "{ADMIN_TOKEN}"\nstore_url = "memory://"\n'
        "[salesforce]\ndev_mode = true\n"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("OPENCX_")}
    process = await asyncio.create_subprocess_exec(
        str(CONSOLE_SCRIPT),
        "serve",
        "--config",
        str(config),
        "--host",
        "127.0.0.1",
        "--port",
        "0",
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=env,
    )
    try:
        assert process.stdout is not None
        banner = (await asyncio.wait_for(process.stdout.readuntil(b"Ctrl-C"), 30)).decode()
        urls = {
            line.split(":", 1)[0].strip(): line.split(":", 1)[1].split()
            for line in banner.splitlines()[1:]
            if ":" in line
        }
        settings_url = urls["settings"][0]
        assert settings_url.endswith("/integrations/salesforce/admin")
        auth = {"Authorization": f"Bearer {ADMIN_TOKEN}", "Accept": "text/html"}
        async with aiohttp.ClientSession() as http:
            async with http.get(settings_url, headers=auth) as page:
                assert page.status == 200 and "Salesforce" in await page.text()
            for url in urls["health"]:
                async with http.get(url) as probe:
                    assert probe.status == 200, url
            async with http.get(urls["metrics"][0], headers=auth) as metrics:
                assert metrics.status == 200
        process.send_signal(signal.SIGINT)
        assert await asyncio.wait_for(process.wait(), timeout=30) == 0
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()


async def test_the_emulator_starts_without_a_webhook_url_and_says_how_to_deploy_later() -> None:
    emulator, org = await start_emulator(EmulatorOptions(host="127.0.0.1", port=0))
    try:
        lines = describe(emulator, org)
        assert (
            "  package:          not deployed yet; once the plugin shows its webhook URL:" in lines
        )
        command = lines[-1].strip()
        assert command.startswith(
            f"curl -X POST {emulator.base_url}/_emulator/orgs/{org.id}/package"
        )
        # The route the banner names deploys the package.
        url = f"{emulator.base_url}/_emulator/orgs/{org.id}/package"
        async with (
            aiohttp.ClientSession() as http,
            http.post(url, json={"webhookUrl": "https://bot.example.com/hook/x"}) as response,
        ):
            assert response.status == 200
            assert (await response.json())["deployed"] is True
        assert "  package:          deployed, webhooks to https://bot.example.com/hook/x" in (
            describe(emulator, org)
        )
    finally:
        await emulator.close()
