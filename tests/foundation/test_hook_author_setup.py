"""A hook author who forgot pytest-asyncio or its auto mode is told what to
install and set, instead of pytest's "async def functions are not natively
supported"."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from opencx_salesforce.emulator.pytest_plugin import SETUP_HINT

TEST = """
async def test_my_hook(salesforce_emulator):
    assert salesforce_emulator.base_url.startswith("http")
"""


def run_pytest(folder: Path, ini: str, *args: str) -> subprocess.CompletedProcess[str]:
    (folder / "test_hook.py").write_text(TEST)
    (folder / "pytest.ini").write_text(ini)
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *args],
        cwd=folder,
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.mark.parametrize(
    ("ini", "args"),
    [
        ("[pytest]\n", ()),  # pytest-asyncio installed, strict mode (its default)
        ("[pytest]\n", ("-p", "no:aiohttp", "-p", "no:asyncio")),  # neither plugin there
    ],
    ids=["strict mode", "no pytest-asyncio"],
)
def test_missing_async_setup_gives_the_hint(
    tmp_path: Path, ini: str, args: tuple[str, ...]
) -> None:
    done = run_pytest(tmp_path, ini, *args)
    assert done.returncode == pytest.ExitCode.USAGE_ERROR, done.stdout + done.stderr
    assert SETUP_HINT in done.stdout + done.stderr


def test_auto_mode_runs_the_hook_test(tmp_path: Path) -> None:
    done = run_pytest(tmp_path, "[pytest]\nasyncio_mode = auto\n")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "1 passed" in done.stdout
