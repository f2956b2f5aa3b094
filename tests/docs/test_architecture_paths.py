"""docs/architecture.md follows one handoff and one reply through the modules,
each hop named by its path: every path it names must exist, so the page cannot
drift from the tree when a module moves or is split."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PAGE = ROOT / "docs" / "architecture.md"
PACKAGE = ROOT / "opencx_salesforce"

# "cases/plan.py", "../opencx_salesforce/cases/plan.py", "live/" (a folder), in
# link targets, code spans and the diagram alike.
MODULE = re.compile(r"(?<![\w/.])(?:\.\./)?(?:opencx_salesforce/)?((?:[a-z_]+/)*[a-z_]+\.py)\b")
FOLDER = re.compile(r"\.\./opencx_salesforce/((?:[a-z_]+/)+)\)")


def named_modules() -> set[str]:
    return set(MODULE.findall(PAGE.read_text(encoding="utf-8")))


def test_the_page_names_modules_to_check() -> None:
    # Guards the test below against passing on nothing.
    assert {"plugin.py", "runtime.py", "cases/service.py", "replies/webhook.py"} <= (
        named_modules()
    )


def test_every_module_the_architecture_page_names_exists() -> None:
    missing = sorted(path for path in named_modules() if not (PACKAGE / path).is_file())
    assert not missing, f"docs/architecture.md names modules that do not exist: {missing}"


def test_every_folder_the_architecture_page_links_exists() -> None:
    folders = FOLDER.findall(PAGE.read_text(encoding="utf-8"))
    assert folders
    missing = sorted(path for path in folders if not (PACKAGE / path).is_dir())
    assert not missing, f"docs/architecture.md links folders that do not exist: {missing}"
