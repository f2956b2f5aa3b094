"""``python -m opencx_salesforce`` is the ``opencx-salesforce`` command."""

from __future__ import annotations

import subprocess
import sys

from opencx_salesforce import __version__


def test_python_m_runs_the_command_line() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "opencx_salesforce", "--version"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == f"opencx-salesforce {__version__}"
