"""uv.lock is what the project's commands install, and it cannot drift silently
from pyproject.toml: the bootstrap that both README commands use refuses a stale
lock and names the command that refreshes it."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
UV = ROOT / ".tools" / "bin" / "uv"


def uv() -> str:
    assert UV.exists(), "uv is installed by `bash .ci/bootstrap`; run it first"
    return str(UV)


def test_the_lock_matches_pyproject() -> None:
    done = subprocess.run(
        [uv(), "lock", "--locked", "--offline"], cwd=ROOT, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr


def test_a_dependency_changed_without_the_lock_stops_the_bootstrap(tmp_path: Path) -> None:
    for name in ("pyproject.toml", "uv.lock", "README.md"):
        shutil.copy(ROOT / name, tmp_path / name)
    shutil.copytree(ROOT / ".ci", tmp_path / ".ci")
    (tmp_path / ".tools" / "bin").mkdir(parents=True)
    (tmp_path / ".tools" / "bin" / "uv").symlink_to(UV)
    pyproject = tmp_path / "pyproject.toml"
    # Drop a runtime dependency, as a contributor editing pyproject.toml would.
    text = pyproject.read_text()
    assert '"rich>=13",' in text
    pyproject.write_text(text.replace('"rich>=13",', "", 1))

    done = subprocess.run(
        ["bash", ".ci/bootstrap"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        env={**os.environ, "UV_OFFLINE": "1"},
        timeout=120,
    )
    assert done.returncode == 3, done.stderr
    assert "uv.lock is out of date with pyproject.toml: run '.tools/bin/uv lock'" in done.stderr
    assert not (tmp_path / ".venv").exists(), "nothing is installed from a stale lock"


def test_the_installed_versions_are_the_locked_ones() -> None:
    lock = tomllib.loads((ROOT / "uv.lock").read_text())
    locked = {p["name"]: p["version"] for p in lock["package"] if "version" in p}
    listed = subprocess.run(
        [
            uv(),
            "pip",
            "list",
            "--python",
            str(ROOT / ".venv" / "bin" / "python"),
            "--format",
            "freeze",
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    installed = dict(line.split("==", 1) for line in listed.splitlines() if "==" in line)
    drift = {
        name: (version, locked[name])
        for name, version in installed.items()
        if name in locked and name != "opencx-salesforce" and locked[name] != version
    }
    assert not drift, f"installed differs from uv.lock (installed, locked): {drift}"
    for needed in ("aiohttp", "pytest", "mypy", "ruff", "redis"):
        assert needed in installed, f"{needed} is not installed from the lock"


def test_the_uv_pin_is_exact() -> None:
    pins = [
        line
        for line in (ROOT / ".ci" / "uv.txt").read_text().splitlines()
        if line and not line.startswith("#")
    ]
    assert len(pins) == 1 and re.fullmatch(r"uv==\d+\.\d+\.\d+", pins[0]), pins
