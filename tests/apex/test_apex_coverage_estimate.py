"""An ESTIMATE of the coverage the generated test class gives the callout class.

No org can run the Apex tests here, so this is not a measurement: it follows calls,
enqueued jobs, mocks and DML-fired triggers through the parse trees and counts the
executable lines of every method the tests reach (see opencx_salesforce.apex.coverage
for what that over-counts). The org measures the real number on deploy, where
production needs 75%. [src: apexcode apex_deploying_ide.htm]"""

from __future__ import annotations

from pathlib import Path

from opencx_salesforce.apex import names
from opencx_salesforce.apex.checker import ParsedFile, parse_apex
from opencx_salesforce.apex.coverage import estimate_coverage

from .conftest import Rendered

PRODUCTION_MINIMUM = 75.0


def code_files(rendered: Rendered) -> list[ParsedFile]:
    return [p for p in rendered.parsed.values() if p.kind != "anonymous"]


def test_every_method_and_trigger_is_reached(package: Rendered) -> None:
    estimate = estimate_coverage(names.CALLOUT_CLASS, code_files(package))
    assert estimate.unreached_methods == ()
    triggers = names.triggers(include_email=package.include_email)
    assert estimate.triggers_reached == dict.fromkeys(triggers, True)
    assert estimate.percent >= PRODUCTION_MINIMUM
    assert len(estimate.executable_lines) > 60, "the estimate counted the class's statements"


def without_test_methods(rendered: Rendered, keep: set[str], tmp_path: Path) -> list[ParsedFile]:
    """Re-parse the package with a test class that keeps only the ``keep`` test methods."""
    test_source = rendered.source(f"classes/{names.TEST_CLASS}.cls").read_text()
    lines = test_source.splitlines()
    kept_lines: list[str] = []
    skipping = opened = False
    depth = 0
    for index, line in enumerate(lines):
        following = lines[index + 1] if index + 1 < len(lines) else ""
        if not skipping and line.strip() == "@IsTest" and "static void" in following:
            name = following.split("static void")[1].split("(")[0].strip()
            skipping, opened, depth = name not in keep, False, 0
        if skipping:
            depth += line.count("{") - line.count("}")
            opened = opened or "{" in line
            skipping = not (opened and depth == 0)
            continue
        kept_lines.append(line)
    trimmed = tmp_path / f"{names.TEST_CLASS}.cls"
    trimmed.write_text("\n".join(kept_lines) + "\n")
    # The digest's tests insert comments too (firing the triggers): left out here.
    left_out = {trimmed.name, f"{names.DIGEST_TEST_CLASS}.cls"}
    others = [p.path for p in code_files(rendered) if p.path.name not in left_out]
    return parse_apex([*others, trimmed], outline=True)


def test_the_estimate_drops_when_tests_are_missing(
    packages: dict[str, Rendered], tmp_path: Path
) -> None:
    signed = packages["signed"]

    only_ping = estimate_coverage(
        names.CALLOUT_CLASS, without_test_methods(signed, {"pingSendsASignedPing"}, tmp_path)
    )
    assert not any(only_ping.triggers_reached.values()), "no DML, no trigger"
    assert any("onCaseCommentsInserted" in m for m in only_ping.unreached_methods)
    assert any(".execute:" in m for m in only_ping.unreached_methods)
    assert only_ping.percent < PRODUCTION_MINIMUM

    nothing = estimate_coverage(names.CALLOUT_CLASS, without_test_methods(signed, set(), tmp_path))
    assert nothing.percent == 0.0
