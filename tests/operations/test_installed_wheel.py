"""What a host implementer gets from the package index: the wheel, installed in
a fresh virtual environment with the ``testing`` extra, runs the store
conformance suite against the memory store from the installed package (not from
this checkout)."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
UV = ROOT / ".tools" / "bin" / "uv"

HOST_TEST = '''
"""A host implementer's conformance test, as the suite's docstring shows it."""
import pytest

import opencx_salesforce
from opencx_salesforce.store.memory import MemoryStore
from opencx_salesforce.testing.store_conformance import *  # noqa: F403
from opencx_salesforce.testing.store_conformance import Backend


@pytest.fixture
async def backend():
    shared = MemoryStore()  # one store, every open() sees the same data

    async def opener():
        return shared

    opened = Backend("memory", opener)
    yield opened
    await opened.close_all()


def test_the_package_comes_from_the_virtual_environment():
    assert "site-packages" in opencx_salesforce.__file__, opencx_salesforce.__file__
'''


def run(*args: str | Path, cwd: Path = ROOT) -> str:
    env = {k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "UV_PYTHON")}
    env["UV_PYTHON_DOWNLOADS"] = "never"
    done = subprocess.run(
        [str(a) for a in args], cwd=cwd, capture_output=True, text=True, timeout=300, env=env
    )
    assert done.returncode == 0, f"{args}\n{done.stdout}\n{done.stderr}"
    return done.stdout + done.stderr


def test_the_wheel_runs_the_conformance_suite_in_a_fresh_venv(tmp_path: Path) -> None:
    if not UV.exists():
        pytest.fail(f"{UV} is missing: bash .ci/bootstrap installs the pinned uv")
    source = tmp_path / "source"  # a clean copy: the build leaves nothing in the checkout
    shutil.copytree(
        ROOT,
        source,
        ignore=shutil.ignore_patterns(
            ".git", ".venv", ".tools", "node_modules", "build", "dist", "*.egg-info",
            "__pycache__", ".mypy_cache", ".ruff_cache", "bench", "tests", "hooks",
        ),
    )  # fmt: skip
    shutil.copytree(
        ROOT / "opencx_salesforce" / "apex" / "check" / "node_modules",
        source / "opencx_salesforce" / "apex" / "check" / "node_modules",
        dirs_exist_ok=True,
    )
    dist = tmp_path / "dist"
    run(UV, "build", "--wheel", "--offline", "--out-dir", dist, source)
    [wheel] = dist.glob("opencx_salesforce-*.whl")

    # The locked versions of what the wheel and its testing extra need, from uv's cache.
    requirements = tmp_path / "requirements.txt"
    exported = run(
        UV, "export", "--frozen", "--no-hashes", "--no-emit-project", "--extra", "testing",
        "--no-dev", "--quiet",
    )  # fmt: skip
    requirements.write_text(exported)
    venv = tmp_path / "venv"
    run(UV, "venv", "--python", sys.executable, venv)
    python = venv / "bin" / "python"
    # From uv's cache; the first run on a machine fills it from the package index.
    run(UV, "pip", "install", "--python", python, "-r", requirements)
    run(UV, "pip", "install", "--python", python, "--offline", "--no-deps", f"{wheel}[testing]")

    project = tmp_path / "my_host"
    project.mkdir()
    (project / "test_my_store.py").write_text(textwrap.dedent(HOST_TEST))
    (project / "pytest.ini").write_text(
        "[pytest]\nasyncio_mode = auto\nasyncio_default_fixture_loop_scope = function\n"
    )
    out = run(
        python, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "no:randomly", cwd=project
    )
    summary = re.search(r"^(\d+) passed in ", out, re.MULTILINE)
    assert summary is not None and "failed" not in out and " error" not in out, out
    assert int(summary.group(1)) >= 38, out  # the whole suite ran, and the origin check
