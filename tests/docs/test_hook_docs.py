"""Every hook, and the example plugins, stay documented and tested.

Fails when an :class:`ExtensionHooks` hook has no section in docs/extending.md
(or a :class:`HostHooks` hook none in docs/host-implementers.md) headed by its
exact signature, when a hook of either kind has no test named
``test_hook_<name>`` (datasette's rule), when an optional Host member has no
test named ``test_host_<name>``, when the guide documents a hook that
does not exist, when an example in hooks/ has no test, no docstring, no ``plugin`` to load
or no line in hooks/README.md, and when code the guide quotes from hooks/ no
longer matches the file.
"""

from __future__ import annotations

import ast
import importlib.util
import inspect
import re
import textwrap
from pathlib import Path
from types import ModuleType

import pluggy
import pytest

from opencx_salesforce.hookspecs import (
    OPTIONAL_HOST_MEMBERS,
    PROJECT_NAME,
    ExtensionHooks,
    Host,
    HostHooks,
)

ROOT = Path(__file__).resolve().parents[2]
GUIDE = ROOT / "docs" / "extending.md"
HOST_GUIDE = ROOT / "docs" / "host-implementers.md"
TEST_DIRS = (ROOT / "tests", ROOT / "hooks")
HOOKS_DIR = ROOT / "hooks"
HOOKS_README = HOOKS_DIR / "README.md"

HEADING = re.compile(r"^(#{2,6}) (.+?)\s*$", re.MULTILINE)
# A quoted block: a marker naming the file, then a fenced python block.
EXCERPT = re.compile(r"<!-- excerpt: (\S+) -->\n```python\n(.*?)\n```", re.DOTALL)


def hook_signatures(specs: type) -> dict[str, str]:
    """Each hook's name and its signature as the guide must head it,
    e.g. ``salesforce_case_fields(session, fields)``."""
    pm = pluggy.PluginManager(PROJECT_NAME)
    hooks = {}
    for name, function in vars(specs).items():
        if callable(function) and pm.parse_hookspec_opts(specs, name) is not None:
            params = [p for p in inspect.signature(function).parameters if p != "self"]
            hooks[name] = f"{name}({', '.join(params)})"
    return hooks


def extension_hooks() -> dict[str, str]:
    return hook_signatures(ExtensionHooks)


def host_hooks() -> dict[str, str]:
    return hook_signatures(HostHooks)


def names_of_tests() -> set[str]:
    """The name of every test function in tests/ and hooks/."""
    names: set[str] = set()
    for directory in TEST_DIRS:
        for path in directory.rglob("test_*.py"):
            tree = ast.parse(path.read_text(encoding="utf-8"))
            names.update(
                node.name
                for node in ast.walk(tree)
                if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
                and node.name.startswith("test_")
            )
    return names


def examples() -> list[str]:
    """The example plugins in hooks/, by module name."""
    return sorted(
        path.stem
        for path in HOOKS_DIR.glob("*.py")
        if not path.stem.startswith("test_") and path.stem != "conftest"
    )


def guide_section(signature: str, guide: Path = GUIDE) -> str:
    """The guide's text under the heading ``signature``, up to the next heading of
    the same or a higher level."""
    text = guide.read_text(encoding="utf-8")
    for match in HEADING.finditer(text):
        if match.group(2) == signature:
            level = len(match.group(1))
            end = len(text)
            for later in HEADING.finditer(text, match.end()):
                if len(later.group(1)) <= level:
                    end = later.start()
                    break
            return text[match.end() : end]
    raise AssertionError(f"{guide.relative_to(ROOT)} has no heading {signature!r}")


def load_example(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(f"hooks_example_{name}", HOOKS_DIR / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_there_are_hooks_and_examples_to_check() -> None:
    # Guards the tests below against passing on nothing.
    assert len(extension_hooks()) >= 2
    assert len(examples()) >= 3


@pytest.mark.parametrize("hook", sorted(extension_hooks()))
def test_every_hook_has_a_section_headed_by_its_signature(hook: str) -> None:
    signature = extension_hooks()[hook]
    section = guide_section(signature)
    for param in signature[signature.index("(") + 1 : -1].split(", "):
        assert f"`{param}`" in section, f"{signature}: argument `{param}` is not described"
    for topic in ("**arguments.**", "**returns**", "**sync or async.**", "validation"):
        assert topic in section.lower(), f"{signature}: the section has no {topic!r}"
    excerpts = [path for path, _ in EXCERPT.findall(section)]
    assert any(path.startswith("hooks/") for path in excerpts), (
        f"{signature}: no example quoted from hooks/ (<!-- excerpt: hooks/... --> before it)"
    )


def test_every_signature_heading_in_the_guide_is_a_hook() -> None:
    text = GUIDE.read_text(encoding="utf-8")
    documented = {h for _, h in HEADING.findall(text) if re.fullmatch(r"\w+\(.*\)", h)}
    assert documented == set(extension_hooks().values())


def test_the_guide_has_a_testing_section_with_a_complete_test() -> None:
    section = guide_section("Testing your hook with the emulator's pytest fixtures")
    quoted = [code for path, code in EXCERPT.findall(section) if "/test_" in path]
    assert quoted, "the testing section quotes no test file from hooks/"
    assert any("async def test_" in code and "salesforce_stack" in code for code in quoted)


def test_code_quoted_from_hooks_matches_the_files() -> None:
    text = GUIDE.read_text(encoding="utf-8")
    quoted = EXCERPT.findall(text)
    assert quoted
    for path, code in quoted:
        source = (ROOT / path).read_text(encoding="utf-8")
        # A method is quoted dedented: match it at any indentation of the file.
        found = any(textwrap.indent(code, " " * n) in source for n in (0, 4, 8))
        assert found, f"docs/extending.md quotes {path}, but the file no longer says so"


@pytest.mark.parametrize("name", examples())
def test_every_example_has_a_test_that_imports_it(name: str) -> None:
    test_file = HOOKS_DIR / f"test_{name}.py"
    assert test_file.exists(), f"hooks/{name}.py has no test: write hooks/test_{name}.py"
    tree = ast.parse(test_file.read_text(encoding="utf-8"))
    tests = [
        node.name
        for node in tree.body
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
        and node.name.startswith("test_")
    ]
    assert tests, f"hooks/test_{name}.py defines no test"
    imported = {node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)} | {
        alias.name
        for node in ast.walk(tree)
        if isinstance(node, ast.Import)
        for alias in node.names
    }
    assert name in imported, f"hooks/test_{name}.py does not import {name}"


@pytest.mark.parametrize("name", examples())
def test_every_example_loads_as_a_plugin(name: str) -> None:
    module = load_example(name)
    doc = inspect.getdoc(module) or ""
    assert "entry point" in doc and "register" in doc, (
        f"hooks/{name}.py: the module docstring must say how to enable it"
    )
    assert hasattr(module, "plugin"), f"hooks/{name}.py has no `plugin` for an entry point"

    pm = pluggy.PluginManager(PROJECT_NAME)
    pm.add_hookspecs(HostHooks)
    pm.add_hookspecs(ExtensionHooks)
    pm.register(module.plugin, name=name)
    pm.check_pending()  # no misspelt hook
    implemented = [hook for hook in extension_hooks() if getattr(pm.hook, hook).get_hookimpls()]
    assert implemented, f"hooks/{name}.py implements no extension hook"


@pytest.mark.parametrize("name", examples())
def test_every_example_is_listed_in_the_hooks_readme(name: str) -> None:
    assert f"({name}.py)" in HOOKS_README.read_text(encoding="utf-8")


@pytest.mark.parametrize("hook", sorted(host_hooks()))
def test_every_host_hook_has_a_section_headed_by_its_signature(hook: str) -> None:
    section = guide_section(host_hooks()[hook], HOST_GUIDE)
    assert section.strip(), f"the section on {hook} in docs/host-implementers.md is empty"


@pytest.mark.parametrize("hook", sorted({**host_hooks(), **extension_hooks()}))
def test_every_hook_has_a_test_named_after_it(hook: str) -> None:
    tests = names_of_tests()
    assert any(name.startswith(f"test_hook_{hook}") for name in tests), (
        f"no test named test_hook_{hook}... in tests/ or hooks/: add one that shows "
        "the hook doing its job"
    )


@pytest.mark.parametrize("member", OPTIONAL_HOST_MEMBERS)
def test_every_optional_host_member_has_a_test_named_after_it(member: str) -> None:
    """The Host members a host may offer (``hand_back_to_bot``,
    ``show_live_activity``…) change what the plugin does, so each has a test that
    shows it, like the hooks."""
    assert any(name.startswith(f"test_host_{member}") for name in names_of_tests()), (
        f"no test named test_host_{member}... in tests/ or hooks/: add one that shows "
        "the plugin using it"
    )


def host_members() -> list[str]:
    """Every member of the Host protocol, and the optional ones a host may offer."""
    required = [
        name
        for name in vars(Host)
        if not name.startswith("_")
        and (callable(vars(Host)[name]) or isinstance(vars(Host)[name], property))
    ]
    return sorted({*required, *OPTIONAL_HOST_MEMBERS})


@pytest.mark.parametrize("member", host_members())
def test_every_host_member_has_a_row_in_the_host_guide(member: str) -> None:
    """Each member the plugin calls on a host, required or optional
    (``set_session_metadata_many``), is a table row of docs/host-implementers.md."""
    rows = [
        line
        for line in HOST_GUIDE.read_text(encoding="utf-8").splitlines()
        if line.startswith("| `")
    ]
    assert any(re.match(rf"\| `(async )?{member}\b", row) for row in rows), member
