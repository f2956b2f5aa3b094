"""Run the Apex parser (``check/parse_apex.mjs``, Node + @apexdevtools/apex-parser) over
generated files and read its answer.

The parser proves syntax only: no org is reachable from here, so nothing is compiled
against a schema and no Apex test runs. ``npm ci`` in ``check/`` installs the parser.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final, TypedDict

CHECK_DIR: Final = Path(__file__).parent / "check"
SCRIPT: Final = CHECK_DIR / "parse_apex.mjs"
PARSER_PACKAGE: Final = CHECK_DIR / "node_modules" / "@apexdevtools" / "apex-parser"
APEX_SUFFIXES: Final = (".cls", ".trigger", ".apex")


class ApexCheckerUnavailable(RuntimeError):
    """Node or the parser package is missing; the message says how to install it."""


class Call(TypedDict):
    qualifier: str | None
    name: str
    args: list[str]
    line: int


class Creation(TypedDict):
    type: str
    args: list[str]
    line: int


class Dml(TypedDict):
    operation: str
    target: str
    line: int


class Loop(TypedDict):
    startLine: int
    endLine: int


class Query(TypedDict):
    text: str
    line: int


class Body(TypedDict):
    calls: list[Call]
    creations: list[Creation]
    dml: list[Dml]
    locals: dict[str, str]  # variable -> declared type (locals and for-each variables)
    loops: list[Loop]
    queries: list[Query]  # inline SOQL
    statementLines: list[int]  # executable lines, System.debug excluded


class Method(Body):
    name: str
    isConstructor: bool
    modifiers: list[str]
    parameters: dict[str, str]
    startLine: int
    endLine: int


class Field(TypedDict):
    name: str
    type: str
    modifiers: list[str]
    initializer: str | None
    line: int


class ApexType(TypedDict):
    name: str
    modifiers: list[str]
    implements: list[str]
    startLine: int
    endLine: int
    methods: list[Method]
    fields: list[Field]


class Trigger(Body):
    name: str
    object: str
    events: list[str]


class Outline(TypedDict, total=False):
    types: list[ApexType]
    trigger: Trigger
    anonymous: Body


@dataclass(frozen=True)
class SyntaxProblem:
    line: int
    column: int
    message: str

    def __str__(self) -> str:
        return f"{self.line}:{self.column} {self.message}"


@dataclass(frozen=True)
class ParsedFile:
    path: Path
    kind: str  # "class" | "trigger" | "anonymous"
    errors: tuple[SyntaxProblem, ...]
    outline: Outline | None


def node_executable() -> str:
    node = shutil.which("node")
    if node is None:
        raise ApexCheckerUnavailable("node is not on PATH; install Node.js 20.19 or later")
    if not PARSER_PACKAGE.is_dir():
        raise ApexCheckerUnavailable(
            f"@apexdevtools/apex-parser is not installed: run `npm ci` in {CHECK_DIR}"
        )
    return node


def parse_apex(paths: Sequence[Path], *, outline: bool = False) -> list[ParsedFile]:
    """Parse ``paths`` (.cls, .trigger, .apex) and return one result per file, in order."""
    if not paths:
        return []
    command = [node_executable(), str(SCRIPT)]
    if outline:
        command.append("--outline")
    command.extend(str(path) for path in paths)
    completed = subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)
    # 0: no syntax error, 1: some syntax error; anything else is the checker failing.
    if completed.returncode not in (0, 1):
        raise ApexCheckerUnavailable(
            f"parse_apex.mjs exited {completed.returncode}: {completed.stderr.strip()}"
        )
    document: dict[str, Any] = json.loads(completed.stdout)
    return [
        ParsedFile(
            path=Path(item["path"]),
            kind=item["kind"],
            errors=tuple(
                SyntaxProblem(e["line"], e["column"], e["message"]) for e in item["errors"]
            ),
            outline=item.get("outline"),
        )
        for item in document["files"]
    ]


def apex_files(root: Path) -> list[Path]:
    """Every Apex source file under ``root``, sorted."""
    return sorted(p for p in root.rglob("*") if p.suffix in APEX_SUFFIXES and p.is_file())
