"""Links between the documents lead somewhere: every relative link in README.md
and docs/*.md names a file of the repository, and every ``#anchor`` names a
heading of the document it points into (GitHub's heading ids)."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path
from urllib.parse import unquote

import pytest

ROOT = Path(__file__).resolve().parents[2]
LINK = re.compile(r"(?<!!)\[[^\]\n]*\]\(([^)\s]+)\)")
HEADING = re.compile(r"^#{1,6} (.+?)\s*#*$", re.MULTILINE)
FENCED = re.compile(r"^\s*(```|~~~).*?^\s*\1", re.MULTILINE | re.DOTALL)
# README.md is also the package index page, where relative links break: it links
# into the repository by absolute URL, checked here as the file it names.
SOURCE = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["urls"]["Source"]
IN_REPOSITORY = re.compile(rf"^{re.escape(SOURCE)}/(?:blob|tree)/main/(.*)$")


def documents() -> list[Path]:
    return [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]


def slug(heading: str) -> str:
    """GitHub's id for a heading: lower case, inline markup and punctuation
    dropped (hyphens and underscores kept), spaces as hyphens."""
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", heading)  # a link keeps its text
    text = text.replace("`", "").lower()
    text = re.sub(r"[^\w\- ]", "", text)
    return text.replace(" ", "-")


def anchors(path: Path) -> set[str]:
    text = FENCED.sub("", path.read_text(encoding="utf-8"))
    return {slug(h) for h in HEADING.findall(text)}


def links() -> list[tuple[Path, int, str]]:
    found = []
    for path in documents():
        if not path.exists():
            continue
        text = path.read_text(encoding="utf-8")
        prose = FENCED.sub(lambda m: "\n" * m.group(0).count("\n"), text)
        for number, line in enumerate(prose.splitlines(), start=1):
            for match in LINK.finditer(line):
                target = match.group(1)
                in_repository = IN_REPOSITORY.match(target)
                if in_repository:  # relative to the root, as README.md is
                    found.append((ROOT / "README.md", number, in_repository.group(1)))
                elif not re.match(r"^[a-z]+:", target):  # http:, https:, mailto:
                    found.append((path, number, target))
    return found


def test_there_are_links_to_check() -> None:
    assert len(links()) >= 30


@pytest.mark.parametrize(
    "path, line, target",
    links(),
    ids=lambda value: value if isinstance(value, str) else "",
)
def test_link_leads_somewhere(path: Path, line: int, target: str) -> None:
    where = f"{path.relative_to(ROOT)}:{line}: {target}"
    file_part, _, anchor = target.partition("#")
    destination = (path.parent / unquote(file_part)).resolve() if file_part else path
    assert destination.exists(), f"{where}: no such file"
    if anchor:
        assert destination.suffix == ".md", f"{where}: an anchor into a file that is not Markdown"
        assert anchor in anchors(destination), f"{where}: no heading with the id {anchor!r}"


def test_slug_matches_github() -> None:
    assert slug("6. Check the setup with `doctor`") == "6-check-the-setup-with-doctor"
    assert slug("Credentials won't save") == "credentials-wont-save"
    assert slug("salesforce_case_fields(session, fields)") == "salesforce_case_fieldssession-fields"
    assert slug("The emulator, and how it stays honest") == "the-emulator-and-how-it-stays-honest"


def test_readme_links_work_from_the_package_index_page() -> None:
    text = FENCED.sub("", (ROOT / "README.md").read_text(encoding="utf-8"))
    relative = [t for t in LINK.findall(text) if not re.match(r"^([a-z]+:|#)", t)]
    assert not relative, f"README.md: relative links break on the package index: {relative}"
    assert any(IN_REPOSITORY.match(t) for t in LINK.findall(text))


def test_the_project_urls_lead_to_the_repository() -> None:
    urls = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["urls"]
    assert set(urls) >= {"Homepage", "Documentation", "Source", "Issues", "Changelog"}
    for name, url in urls.items():
        assert url.startswith(SOURCE), (name, url)
    changelog = IN_REPOSITORY.match(urls["Changelog"])
    assert changelog and (ROOT / changelog.group(1)).exists()
