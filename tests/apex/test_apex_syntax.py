"""The generated Apex parses with the real Apex grammar (@apexdevtools/apex-parser in
Node), and the checker fails on broken Apex, so a green run means something.

Parsing proves syntax only: no org is reachable here, so nothing is compiled against an
org's schema and no Apex test runs."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from opencx_salesforce.apex import names
from opencx_salesforce.apex.checker import SCRIPT, node_executable, parse_apex

from .conftest import Rendered


def test_every_apex_file_parses(package: Rendered) -> None:
    kinds = {p.path.name: p.kind for p in package.parsed.values()}
    assert kinds == {
        f"{names.CALLOUT_CLASS}.cls": "class",
        f"{names.TEST_CLASS}.cls": "class",
        f"{names.DIGEST_CLASS}.cls": "class",
        f"{names.DIGEST_TEST_CLASS}.cls": "class",
        **{
            f"{trigger}.trigger": "trigger"
            for trigger in names.triggers(include_email=package.include_email)
        },
        "ping.apex": "anonymous",
        "start-digest.apex": "anonymous",
        "stop-digest.apex": "anonymous",
    }
    problems = {
        p.path.name: [str(e) for e in p.errors] for p in package.parsed.values() if p.errors
    }
    assert problems == {}


def test_the_checker_reports_a_broken_class_and_trigger(tmp_path: Path) -> None:
    broken_class = tmp_path / "Broken.cls"
    broken_class.write_text("public class Broken {\n    void x( {\n    }\n}\n")
    broken_trigger = tmp_path / "Broken.trigger"
    broken_trigger.write_text("trigger Broken on Case (after sideways) {\n}\n")
    bad_escape = tmp_path / "Escape.cls"
    bad_escape.write_text("public class Escape {\n    String s = 'a\\qb';\n}\n")
    good = tmp_path / "Good.cls"
    good.write_text("public class Good {\n    String s = 'o\\'cx';\n}\n")

    results = {p.path.name: p for p in parse_apex([broken_class, broken_trigger, bad_escape, good])}

    assert results["Broken.cls"].errors and results["Broken.cls"].errors[0].line == 2
    assert results["Broken.trigger"].errors and results["Broken.trigger"].errors[0].line == 1
    assert results["Escape.cls"].errors, "a lexer error (bad string escape) is caught too"
    assert results["Good.cls"].errors == ()


def test_the_node_script_prints_json_and_exits_1_on_a_syntax_error(tmp_path: Path) -> None:
    broken = tmp_path / "Broken.cls"
    broken.write_text("public class Broken { Integer i = ; }\n")
    completed = subprocess.run(
        [node_executable(), str(SCRIPT), str(broken)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert completed.returncode == 1
    report = json.loads(completed.stdout)
    [entry] = report["files"]
    assert entry["path"] == str(broken)
    assert entry["errors"][0]["line"] == 1
    assert entry["errors"][0]["message"]


def test_the_node_script_refuses_bad_usage() -> None:
    completed = subprocess.run(
        [node_executable(), str(SCRIPT)], capture_output=True, text=True, timeout=60, check=False
    )
    assert completed.returncode == 2
    assert "usage" in completed.stderr
