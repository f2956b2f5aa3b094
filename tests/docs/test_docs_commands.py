"""Every shell command in README.md and docs/*.md works, or says why it is not run.

What counts as a command:

* in a fenced block marked ``bash``, ``sh``, ``shell`` or ``zsh``: every line that is
  not blank and not a ``#`` comment (a leading ``$ `` is dropped);
* in a ``console`` or ``shell-session`` block: the lines starting with ``$ `` (the
  rest is output);
* in a block without a language: the lines starting with ``$ ``,
  ``opencx-salesforce `` or ``.venv/bin/``;
* in any other block (``text``, ``toml``, ``python``...): the lines starting with
  ``$ `` only.

A line ending in a backslash continues on the next one.

Each command is then

* **run**, when it is safe: ``opencx-salesforce ... --help``; ``opencx-salesforce
  apex`` (its ``--config`` replaced by a copy of sample_config.toml and its
  ``--out`` by a temporary folder); ``python -c ...``; ``python -m pytest ...``
  with ``--collect-only`` added (the paths and options must exist, no test runs);
  ``python docs/_gen_config.py`` with ``--check``;
* or **listed in** :data:`NOT_RUN` with the reason it is not run (it needs a real
  Salesforce org, a server that runs until Ctrl-C, a network install...).

Every ``opencx-salesforce`` command, run or not, must also parse with the real
argparse parser (:func:`opencx_salesforce.cli.build_parser`): a subcommand or a
flag that does not exist fails here. Inline code in the prose that starts with
``opencx-salesforce <subcommand>`` must name a real subcommand and real flags.
Every ``sf`` command must use a ``sf`` command and flags that the generated
package's README gives, so the guides and the package say the same thing.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import re
import shlex
import shutil
import subprocess
import sys
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import NoReturn

import pytest
from cryptography.fernet import Fernet

from opencx_salesforce import cli

ROOT = Path(__file__).resolve().parents[2]
SAMPLE_CONFIG = ROOT / "sample_config.toml"
TIMEOUT = 120.0

SHELL_LANGUAGES = {"bash", "sh", "shell", "zsh"}
CONSOLE_LANGUAGES = {"console", "shell-session"}
PROMPT = "$ "
CLI = "opencx-salesforce"

# Commands that are not run, each with why. A documented command must match one
# pattern (re.search on the command line); a pattern no command matches any more
# is an error too, so this list stays exact.
NOT_RUN: tuple[tuple[str, str], ...] = (
    (r"^pip install ", "installs packages; the test environment is installed"),
    (
        r"^bash \.ci/run$",
        "CI from nothing (venv, Redis, Chromium, npm) and the whole suite, "
        "which includes this test",
    ),
    (
        r"^bash \.ci/bootstrap$",
        "installs uv.lock into .venv; the tests run in that environment "
        "(tests/foundation/test_lock.py checks the lock and the bootstrap's refusal)",
    ),
    (r"^uv lock\b", "rewrites uv.lock from the package index (a maintainer's upgrade)"),
    (r"^cd ", "changes the directory of the reader's shell, nothing to check"),
    (r"^sf org login web\b", "opens a browser to sign in to a real Salesforce org"),
    (r"^sf project deploy start\b", "deploys to (or deletes from) a real Salesforce org"),
    (r"^sf org assign permset\b", "changes a real Salesforce org"),
    (r"^sf apex run\b", "runs Apex in a real Salesforce org"),
    (rf"^{CLI} serve\b", "starts a server that runs until Ctrl-C"),
    (rf"^{CLI} connect\b", "signs in to a real Salesforce org (or needs a connection)"),
    (rf"^{CLI} doctor\b", "checks a real, connected Salesforce org"),
    (r"bench/bench_handoff\.py", "a benchmark: seconds of load against the emulator"),
    (
        rf"^{CLI} emulator\b",
        "starts the emulator, which serves until Ctrl-C (tests/clients start it so)",
    ),
    (r"^export ", "sets a variable in the reader's shell, nothing to check"),
    (
        r"^curl .*/services/oauth2/token\b",
        "asks a running emulator for a token (tests/clients/clients_support.py does so)",
    ),
    (
        r"^curl .*127\.0\.0\.1:8765/_emulator/orgs/",
        "needs a running emulator (docs/emulator-api.md's examples run in "
        "tests/docs/test_emulator_api_doc.py)",
    ),
    (
        r"^curl .*127\.0\.0\.1:8080/api/sessions",
        "needs a running reference host (its JSON API is tested in tests/foundation)",
    ),
    (
        r"^sf org login access-token\b|^sf .*--target-org emu\b",
        "needs a running emulator: tests/clients/test_sf_cli.py runs each of these "
        "sf commands against `opencx-salesforce emulator --tls`",
    ),
)


# --- finding the commands ----------------------------------------------------------------


@dataclass(frozen=True)
class DocCommand:
    path: str  # relative to the repository root
    line: int
    text: str  # the command line, continuations joined, prompt removed

    @property
    def id(self) -> str:
        return f"{self.path}:{self.line}: {self.text}"


@dataclass(frozen=True)
class InlineReference:
    path: str
    line: int
    text: str


FENCE = re.compile(r"^(?P<indent>\s*)(?P<fence>`{3,}|~{3,})\s*(?P<lang>[\w+-]*)")
INLINE_CODE = re.compile(r"`([^`\n]+)`")


def doc_files() -> list[Path]:
    return [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]


def commands_in(text: str, path: str) -> list[DocCommand]:
    """The shell commands of one Markdown document (see the module docstring)."""
    found: list[DocCommand] = []
    lines = text.splitlines()
    index = 0
    while index < len(lines):
        match = FENCE.match(lines[index])
        if not match:
            index += 1
            continue
        indent, fence, lang = len(match["indent"]), match["fence"], match["lang"].lower()
        index += 1
        body: list[tuple[int, str]] = []
        while index < len(lines) and not lines[index].strip().startswith(fence):
            raw = lines[index]
            # Content of a fence indented under a list item carries that indent.
            strip = min(indent, len(raw) - len(raw.lstrip()))
            body.append((index + 1, raw[strip:]))
            index += 1
        index += 1  # the closing fence
        found.extend(_block_commands(body, lang, path))
    return found


def _is_command_line(line: str, lang: str) -> bool:
    if lang in SHELL_LANGUAGES:
        stripped = line.strip()
        return bool(stripped) and not stripped.startswith("#")
    if lang == "":
        return line.startswith((PROMPT, f"{CLI} ", ".venv/bin/"))
    return line.startswith(PROMPT)  # console blocks, and output in any other block


def _block_commands(body: list[tuple[int, str]], lang: str, path: str) -> list[DocCommand]:
    found: list[DocCommand] = []
    position = 0
    while position < len(body):
        number, line = body[position]
        position += 1
        if not _is_command_line(line, lang):
            continue
        parts = [line.strip()]
        while parts[-1].endswith("\\") and position < len(body):
            parts[-1] = parts[-1][:-1].rstrip()
            parts.append(body[position][1].strip())
            position += 1
        text = " ".join(parts).removeprefix(PROMPT).strip()
        found.extend(DocCommand(path, number, part) for part in split_compound(text))
    return found


SEPARATORS = {"&&", "||", ";", "|"}


def split_compound(text: str) -> list[str]:
    """``a && b; c`` as ``["a", "b", "c"]``: each part is checked on its own.
    Quotes are respected; a ``#`` comment is dropped."""
    lexer = shlex.shlex(text, posix=True, punctuation_chars=True)
    lexer.whitespace_split = True
    parts: list[list[str]] = [[]]
    for token in lexer:
        if token in SEPARATORS:
            parts.append([])
        else:
            parts[-1].append(token)
    return [shlex.join(words) for words in parts if words]


def inline_references(text: str, path: str) -> list[InlineReference]:
    """Inline code outside fenced blocks naming an ``opencx-salesforce`` command
    (``opencx-salesforce apex --config FILE``), not output such as
    ``opencx-salesforce doctor: ...``."""
    found: list[InlineReference] = []
    in_fence = False
    for number, line in enumerate(text.splitlines(), start=1):
        if FENCE.match(line):
            in_fence = not in_fence
            continue
        if in_fence:
            continue
        for match in INLINE_CODE.finditer(line):
            words = match.group(1).split()
            if len(words) >= 2 and words[0] == CLI and re.fullmatch(r"[a-z-]+", words[1]):
                found.append(InlineReference(path, number, match.group(1)))
    return found


def all_commands() -> list[DocCommand]:
    found: list[DocCommand] = []
    for path in doc_files():
        if path.exists():
            found.extend(commands_in(path.read_text(encoding="utf-8"), _relative(path)))
    return found


def all_inline_references() -> list[InlineReference]:
    found: list[InlineReference] = []
    for path in doc_files():
        if path.exists():
            found.extend(inline_references(path.read_text(encoding="utf-8"), _relative(path)))
    return found


def _relative(path: Path) -> str:
    return path.relative_to(ROOT).as_posix()


# --- understanding a command -------------------------------------------------------------


def argv_of(command: DocCommand) -> tuple[dict[str, str], list[str]]:
    """Leading VAR=value assignments, and the argument vector."""
    words = shlex.split(command.text, comments=True)
    env: dict[str, str] = {}
    while words and re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*=.*", words[0]):
        name, _, value = words.pop(0).partition("=")
        env[name] = value
    return env, words


def program(argv: list[str]) -> str:
    return Path(argv[0]).name if argv else ""


def is_python(argv: list[str]) -> bool:
    return re.fullmatch(r"python(3(\.\d+)?)?", program(argv)) is not None


class ParseFailure(Exception):
    pass


def parse_cli(args: list[str]) -> argparse.Namespace:
    """``args`` (without the program name) through the real parser; ParseFailure
    with argparse's own message when it refuses them."""
    parser = cli.build_parser()

    def refuse(message: str) -> NoReturn:
        raise ParseFailure(message)

    for each in [parser, *subparsers(parser).values()]:
        each.error = refuse  # type: ignore[method-assign]
    try:
        with contextlib.redirect_stdout(io.StringIO()):
            return parser.parse_args(args)
    except SystemExit as exit_:  # --help / --version: fine, they only print
        if exit_.code not in (0, None):
            raise ParseFailure(f"exit {exit_.code}") from None
        return argparse.Namespace(help=True)


def subparsers(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return dict(action.choices)
    return {}


def is_help(args: list[str]) -> bool:
    return any(a in ("-h", "--help", "--version") for a in args)


# --- what to do with a command -----------------------------------------------------------


@dataclass
class Plan:
    """How a documented command is checked."""

    command: DocCommand
    argv: list[str] | None = None  # run this (None: not run)
    cwd: str = "tmp"  # "tmp": a fresh temporary folder; "root": the repository
    env: dict[str, str] = field(default_factory=dict)
    expect_file: str | None = None  # a file the command must have written (in tmp)
    expect_output: bool = False  # stdout must not be empty
    not_run_reason: str | None = None
    problem: str | None = None  # why the command is wrong


def plan_for(command: DocCommand) -> Plan:
    env, argv = argv_of(command)
    plan = Plan(command, env=env)
    if not argv:
        plan.problem = "empty command"
        return plan
    if program(argv) == CLI:
        return _plan_cli(plan, argv[1:])
    if is_python(argv):
        _plan_python(plan, argv[1:])
        if plan.argv is not None or plan.problem is not None:
            return plan
    return _plan_not_run(plan)


def _plan_cli(plan: Plan, args: list[str]) -> Plan:
    try:
        parsed = parse_cli(args)
    except ParseFailure as exc:
        plan.problem = f"the {CLI} parser refuses it: {exc}"
        return plan
    base = [sys.executable, "-m", "opencx_salesforce.cli"]
    if is_help(args):
        plan.argv = [*base, *args]
        plan.expect_output = True
        return plan
    subcommand = getattr(parsed, "command", None)
    if subcommand == "apex":
        plan.argv = [*base, *_apex_args(args)]
        plan.expect_file = "package/README.md"
        return plan
    if subcommand == "demo" and not getattr(parsed, "keep_running", False):
        # The README's one command: it plays the whole product on loopback and
        # exits 0 only if every step happened.
        plan.argv = [*base, *args]
        plan.expect_output = True
        return plan
    return _plan_not_run(plan)


def _apex_args(args: list[str]) -> list[str]:
    """``apex`` with the test's own config and output folder."""
    replaced: list[str] = []
    words = iter(args)
    for word in words:
        if word in ("--config", "--out"):
            next(words, None)
            replaced += [word, "config.toml" if word == "--config" else "package"]
        elif word.startswith(("--config=", "--out=")):
            name = word.split("=", 1)[0]
            replaced.append(f"{name}={'config.toml' if name == '--config' else 'package'}")
        else:
            replaced.append(word)
    return replaced


def _plan_python(plan: Plan, args: list[str]) -> None:
    if args[:1] == ["-c"] and len(args) >= 2:
        plan.argv = [sys.executable, *args]
        plan.expect_output = True
    elif args[:2] == ["-m", "pytest"]:
        extra = [] if "--collect-only" in args else ["--collect-only"]
        plan.argv = [sys.executable, *args, *extra]
        plan.cwd = "root"
    elif args[:1] == ["docs/_gen_config.py"]:
        extra = [] if "--check" in args else ["--check"]
        plan.argv = [sys.executable, *args, *extra]
        plan.cwd = "root"


def normalized(command: DocCommand) -> str:
    """The command as NOT_RUN matches it: no leading VAR=value, and the program
    by its name (``.venv/bin/pip`` is ``pip``)."""
    _, argv = argv_of(command)
    return shlex.join([program(argv), *argv[1:]]) if argv else ""


def _plan_not_run(plan: Plan) -> Plan:
    for pattern, reason in NOT_RUN:
        if re.search(pattern, normalized(plan.command)):
            plan.not_run_reason = reason
            return plan
    plan.problem = (
        "neither run by this test nor listed in NOT_RUN: add it to NOT_RUN with the "
        "reason it is not run, or make it runnable"
    )
    return plan


# --- running -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Outcome:
    returncode: int
    stdout: str
    stderr: str
    wrote: bool  # the expected file exists afterwards (True when none is expected)


def command_env(extra: Mapping[str, str]) -> dict[str, str]:
    """The environment of a documented command: no OPENCX_* settings of the
    machine running the tests, and the two secrets a config needs."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("OPENCX_")}
    env["OPENCX_HOST_ADMIN_TOKEN"] = "docs-test-admin-token-0123456789"
    env["OPENCX_SALESFORCE_ENCRYPTION_KEY"] = Fernet.generate_key().decode()
    env.update(extra)
    return env


def run_plan(plan: Plan, workdir: Path) -> Outcome:
    assert plan.argv is not None
    workdir.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(SAMPLE_CONFIG, workdir / "config.toml")
    cwd = ROOT if plan.cwd == "root" else workdir
    done = subprocess.run(
        plan.argv,
        cwd=cwd,
        env=command_env(plan.env),
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        check=False,
    )
    wrote = plan.expect_file is None or (workdir / plan.expect_file).is_file()
    return Outcome(done.returncode, done.stdout, done.stderr, wrote)


COMMANDS = all_commands()
PLANS = {command.id: plan_for(command) for command in COMMANDS}


@pytest.fixture(scope="module")
def outcomes(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Outcome]:
    """Every runnable documented command, run at once (in parallel: each takes
    about half a second to start Python). A command documented twice runs once."""
    base = tmp_path_factory.mktemp("doc-commands")
    runs: dict[tuple[object, ...], list[str]] = {}
    first: dict[tuple[object, ...], Plan] = {}
    for key, plan in PLANS.items():
        if plan.argv is not None:
            same = (tuple(plan.argv), plan.cwd, plan.expect_file, tuple(sorted(plan.env.items())))
            runs.setdefault(same, []).append(key)
            first.setdefault(same, plan)
    with ThreadPoolExecutor(max_workers=8) as pool:
        futures = {
            same: pool.submit(run_plan, first[same], base / f"cmd{n}")
            for n, same in enumerate(runs)
        }
        return {key: futures[same].result() for same, keys in runs.items() for key in keys}


# --- the tests ---------------------------------------------------------------------------


def test_the_documents_hold_commands_of_every_kind() -> None:
    # Guards the tests below against passing on nothing (a broken extractor).
    plans = list(PLANS.values())
    assert len(plans) >= 20
    assert any(p.argv is not None and "--help" in p.argv for p in plans)
    assert any(p.expect_file is not None for p in plans), "no apex command is run"
    assert any(p.argv is not None and "-c" in p.argv for p in plans)
    assert any(p.not_run_reason is not None for p in plans)


@pytest.mark.parametrize("key", sorted(PLANS))
def test_documented_command(key: str, outcomes: dict[str, Outcome]) -> None:
    plan = PLANS[key]
    assert plan.problem is None, f"{key}\n  {plan.problem}"
    if plan.argv is None:
        assert plan.not_run_reason
        return
    outcome = outcomes[key]
    assert outcome.returncode == 0, (
        f"{key}\n  exit code {outcome.returncode}\n  stdout: {outcome.stdout[-2000:]}\n"
        f"  stderr: {outcome.stderr[-2000:]}"
    )
    if plan.expect_output:
        assert outcome.stdout.strip(), f"{key} printed nothing"
    assert outcome.wrote, f"{key} did not write {plan.expect_file}"


# A step of the demo as it prints it: its title and the API calls it cost (the
# time varies from run to run; the calls do not).
DEMO_STEP = re.compile(r"^✓ (?P<title>.+?)  \(\d+ ms, (?P<calls>\d+) API calls?\)$", re.MULTILINE)


def demo_steps(text: str) -> list[tuple[str, int]]:
    return [(m["title"], int(m["calls"])) for m in DEMO_STEP.finditer(text)]


def test_the_readme_shows_the_demo_as_it_runs(outcomes: dict[str, Outcome]) -> None:
    """README.md's sample of the demo names the steps the demo plays, each with
    the API calls it costs there (it had said two for a step that costs one)."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    demo = [
        key
        for key, plan in PLANS.items()
        if key.startswith("README.md:") and plan.argv is not None and "demo" in plan.argv
    ]
    assert len(demo) == 1, f"README.md's demo command: {demo}"
    ran = demo_steps(outcomes[demo[0]].stdout)
    assert ran, f"the demo printed no step:\n{outcomes[demo[0]].stdout[-2000:]}"
    section = readme.split("## What the demo shows", 1)[1].split("\n## ", 1)[0]
    assert demo_steps(section) == ran


def test_every_not_run_entry_is_still_needed() -> None:
    texts = [normalized(p.command) for p in PLANS.values() if p.not_run_reason is not None]
    unused = [pattern for pattern, _ in NOT_RUN if not any(re.search(pattern, t) for t in texts)]
    assert unused == [], f"NOT_RUN entries no documented command needs any more: {unused}"


@pytest.mark.parametrize(
    "reference", all_inline_references(), ids=lambda r: f"{r.path}:{r.line}: {r.text}"
)
def test_inline_cli_reference_names_real_subcommand_and_flags(
    reference: InlineReference,
) -> None:
    words = reference.text.split()
    known = subparsers(cli.build_parser())
    assert words[1] in known, f"{reference.path}:{reference.line}: no subcommand {words[1]!r}"
    flags = known[words[1]]._option_string_actions
    for word in words[2:]:
        if word.startswith("-"):
            assert word.split("=", 1)[0] in flags, (
                f"{reference.path}:{reference.line}: `{CLI} {words[1]}` has no flag {word}"
            )


def test_the_command_table_lists_every_subcommand() -> None:
    index = (ROOT / "docs" / "README.md").read_text(encoding="utf-8")
    documented = set(re.findall(rf"^{CLI} ([a-z-]+) --help$", index, re.MULTILINE))
    assert documented == set(subparsers(cli.build_parser())), (
        "docs/README.md's command list differs from the CLI's subcommands"
    )


# --- sf commands say what the generated package says ------------------------------------


@pytest.fixture(scope="module")
def package_text(tmp_path_factory: pytest.TempPathFactory) -> str:
    """The generated package's README (signed, so every section is in it) and the
    deploy instructions `opencx-salesforce apex` prints."""
    from opencx_salesforce.apex.render import render_package
    from opencx_salesforce.commands.apex import print_summary

    out = tmp_path_factory.mktemp("package")
    secret = "docs-test-signing-secret-0123"
    webhook = "https://bot.example.com/integrations/salesforce/webhook/token"
    files = render_package(out, webhook_url=webhook, signing_secret=secret)
    summary = io.StringIO()
    print_summary(summary, out, files, secret, webhook, Path("opencx.toml"))
    return (out / "README.md").read_text(encoding="utf-8") + "\n" + summary.getvalue()


SF_COMMANDS = [c for c in COMMANDS if c.text.startswith("sf ")]


def sf_words(text: str) -> tuple[str, list[str]]:
    """``sf project deploy start`` and the flags of an sf command line."""
    words = shlex.split(text, comments=True)
    first_flag = next((i for i, w in enumerate(words) if w.startswith("-")), len(words))
    flags = [w.split("=", 1)[0] for w in words if w.startswith("-")]
    return " ".join(words[:first_flag]), flags


def test_there_are_sf_commands_to_compare() -> None:
    assert len(SF_COMMANDS) >= 4


# docs/emulator-clients.md points sf at the emulator, not at a real org: its sf
# commands must be the ones tests/clients/ runs against the emulator instead.
EMULATOR_CLIENTS_DOC = "docs/emulator-clients.md"


def client_tests_text() -> str:
    return "\n".join(p.read_text(encoding="utf-8") for p in (ROOT / "tests/clients").glob("*.py"))


@pytest.mark.parametrize("command", SF_COMMANDS, ids=lambda c: f"{c.path}:{c.line}")
def test_sf_command_is_the_packages_own(command: DocCommand, package_text: str) -> None:
    verb, flags = sf_words(command.text)
    if command.path == EMULATOR_CLIENTS_DOC:
        tested = client_tests_text()
        words = [*verb.split()[1:], *flags]
        untested = [w for w in words if f'"{w}"' not in tested]
        assert untested == [], f"{command.id}\n  tests/clients never runs sf with {untested}"
        return
    assert verb in package_text, f"{command.id}\n  the package never says `{verb}`"
    missing = [
        f for f in flags if not re.search(rf"(?<![\w-]){re.escape(f)}(?![\w-])", package_text)
    ]
    assert missing == [], f"{command.id}\n  the package never uses {missing} with sf"


# --- the checks themselves can fail --------------------------------------------------------


def test_extraction_follows_the_rules() -> None:
    markdown = "\n".join(
        [
            "```bash",
            "# a comment",
            "opencx-salesforce apex --config a.toml \\",
            "    --out pkg",
            "$ sf org login web --alias my-org",
            "python3 -m venv .venv && .venv/bin/pip install -e '.[test]'  # set up",
            "```",
            "```console",
            "$ opencx-salesforce --help",
            "usage: opencx-salesforce [-h]",
            "```",
            "```text",
            "opencx-salesforce doctor: webhook https://x",
            "```",
            "1. Step:",
            "",
            "   ```",
            "   opencx-salesforce doctor --config c.toml",
            "   ```",
            "Prose with `opencx-salesforce connect --status` and `opencx-salesforce doctor: x`.",
        ]
    )
    texts = [c.text for c in commands_in(markdown, "x.md")]
    assert texts == [
        "opencx-salesforce apex --config a.toml --out pkg",
        "sf org login web --alias my-org",
        "python3 -m venv .venv",
        ".venv/bin/pip install -e '.[test]'",
        "opencx-salesforce --help",
        "opencx-salesforce doctor --config c.toml",
    ]
    assert [r.text for r in inline_references(markdown, "x.md")] == [
        "opencx-salesforce connect --status"
    ]


@pytest.mark.parametrize(
    "text",
    [
        "opencx-salesforce nosuch --config x.toml",
        "opencx-salesforce apex --config x.toml --out d --no-such-flag",
        "opencx-salesforce apex --out d",  # --config is required
        "curl https://example.com",  # neither runnable nor in NOT_RUN
    ],
)
def test_a_wrong_command_is_caught(text: str) -> None:
    plan = plan_for(DocCommand("x.md", 1, text))
    assert plan.problem is not None


def test_a_runnable_command_that_fails_is_caught(tmp_path: Path) -> None:
    plan = plan_for(DocCommand("x.md", 1, "python -c 'raise SystemExit(3)'"))
    assert plan.argv is not None
    assert run_plan(plan, tmp_path).returncode == 3
