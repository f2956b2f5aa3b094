"""``opencx-salesforce``: help, version, ``serve`` with a bad config (exit 2, the key
named, no traceback) and with a good one (serves until interrupted)."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import aiohttp
import pytest
from foundation_support import ADMIN, ADMIN_TOKEN

from opencx_salesforce import __version__
from opencx_salesforce.cli import main

# The console script pip installed next to the interpreter running the tests.
CONSOLE_SCRIPT = Path(sys.executable).with_name("opencx-salesforce")
BAD_CONFIG = f'[host]\nadmin_token = "{ADMIN_TOKEN}"\nlisten_port = "eighty"\n'


def clean_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith("OPENCX_")}


def test_help_everywhere(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--help"]) == 0
    assert "serve" in capsys.readouterr().out
    assert main(["serve", "--help"]) == 0
    out = capsys.readouterr().out
    assert "--config FILE" in out and "--port" in out


def test_a_reader_that_goes_away_ends_the_command_quietly() -> None:
    # `opencx-salesforce connect ... | head` ended in a BrokenPipeError traceback.
    script = (
        "import os, sys\n"
        "read, write = os.pipe()\n"
        "os.close(read)\n"
        "sys.stdout = os.fdopen(write, 'w', buffering=1)\n"
        "from opencx_salesforce.cli import main\n"
        "sys.exit(main(['emulator', '--help']))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 1
    assert done.stderr == ""


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--version"]) == 0
    assert capsys.readouterr().out.strip() == f"opencx-salesforce {__version__}"


def test_no_command_prints_usage_and_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert main([]) == 2
    assert "usage: opencx-salesforce" in capsys.readouterr().err
    assert main(["serve"]) == 2  # --config is required
    assert "--config" in capsys.readouterr().err


def test_bad_config_exits_2_naming_the_key(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in [k for k in os.environ if k.startswith("OPENCX_")]:
        monkeypatch.delenv(name)
    config = tmp_path / "bad.toml"
    config.write_text(BAD_CONFIG)
    assert main(["serve", "--config", str(config)]) == 2
    err = capsys.readouterr().err
    assert "host.listen_port: expected a whole number, got 'eighty'" in err
    assert "Traceback" not in err

    assert main(["serve", "--config", str(tmp_path / "absent.toml")]) == 2
    assert "absent.toml: no such file" in capsys.readouterr().err


def test_bad_config_through_the_installed_console_script(tmp_path: Path) -> None:
    config = tmp_path / "bad.toml"
    config.write_text(BAD_CONFIG)
    done = subprocess.run(
        [str(CONSOLE_SCRIPT), "serve", "--config", str(config)],
        capture_output=True,
        text=True,
        env=clean_env(),
        timeout=60,
    )
    assert done.returncode == 2
    assert "host.listen_port: expected a whole number, got 'eighty'" in done.stderr
    assert "Traceback" not in done.stderr


async def test_serve_runs_the_host_until_interrupted(tmp_path: Path) -> None:
    config = tmp_path / "host.toml"
    config.write_text(
        f'[host]\nadmin_token = "{ADMIN_TOKEN}"\nstore_url = "memory://"\n'
        "[salesforce]\ndev_mode = true\n"
    )
    process = await asyncio.create_subprocess_exec(
        str(CONSOLE_SCRIPT),
        "serve",
        "--config",
        str(config),
        "--port",
        "0",
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=clean_env(),
    )
    try:
        assert process.stdout is not None
        first = (await asyncio.wait_for(process.stdout.readline(), timeout=30)).decode()
        assert first.startswith("opencx-salesforce host listening on http://127.0.0.1:"), first
        base_url = first.split()[-1]
        banner = (await asyncio.wait_for(process.stdout.readuntil(b"Ctrl-C"), 10)).decode()
        assert "salesforce" in banner and f"{base_url}/admin/login" in banner
        # Start-up frozen out of the collector, its first threshold raised (gc_threshold).
        assert re.search(r"gc: +first threshold 50,000; [\d,]+ objects of start-up frozen", banner)
        async with aiohttp.ClientSession() as http:
            async with http.get(f"{base_url}/healthz") as response:
                assert response.status == 200
            async with http.post(f"{base_url}/api/sessions", json={}, headers=ADMIN) as response:
                assert response.status == 201
        process.send_signal(signal.SIGINT)
        assert await asyncio.wait_for(process.wait(), timeout=30) == 0
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
