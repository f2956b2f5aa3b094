"""An ESTIMATE of the line coverage an Apex test class gives a class, from parse trees.

No org is reachable from here, so the tests can't run and coverage can't be measured
(Salesforce measures it when the tests run in an org: ``sf apex run test
--code-coverage``). This walks the calls instead: starting from every ``@IsTest`` method
it follows static calls, object creations, ``System.enqueueJob`` (the job's ``execute``
runs at ``Test.stopTest``), ``Test.setMock`` (the mock's ``respond``) and DML (the
triggers on that object fire, and their calls are followed). A method counts as covered
when it is reached; every executable line in it counts, so a branch the tests never take
inside a reached method is counted covered anyway. The number is an upper bound of what
the org will measure, useful to catch a method no test reaches, not a promise.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from opencx_salesforce.apex.checker import ApexType, Body, Method, ParsedFile, Trigger

_GENERIC_RE = re.compile(r"^(?:List|Set)<\s*([\w.]+)\s*>$", re.IGNORECASE)
_NEW_RE = re.compile(r"^new\s+([\w.]+)\s*(?:\(|<|\{|\[)", re.IGNORECASE)
_TEST_MODIFIERS = frozenset({"@istest", "testmethod"})


@dataclass(frozen=True)
class CoverageEstimate:
    class_name: str
    executable_lines: frozenset[int]
    covered_lines: frozenset[int]
    unreached_methods: tuple[str, ...]
    triggers_reached: dict[str, bool]

    @property
    def percent(self) -> float:
        if not self.executable_lines:
            return 100.0
        return 100.0 * len(self.covered_lines) / len(self.executable_lines)


@dataclass(frozen=True)
class _Node:
    """A method of a type (``owner`` = the type's qualified name) or a trigger body."""

    owner: str
    method: Method | None = None
    trigger: Trigger | None = None

    @property
    def body(self) -> Body:
        if self.method is not None:
            return self.method
        assert self.trigger is not None
        return self.trigger

    @property
    def key(self) -> str:
        if self.method is not None:
            return f"{self.owner}.{self.method['name']}:{self.method['startLine']}"
        return f"trigger {self.owner}"


class _Program:
    def __init__(self, types: Sequence[ApexType], triggers: Sequence[Trigger]) -> None:
        self.types = {t["name"].lower(): t for t in types}
        self.triggers = list(triggers)

    def resolve_type(self, text: str, context: str) -> ApexType | None:
        """The known type a type name written inside ``context`` refers to."""
        name = text.strip().lower()
        scope = context.lower()
        while True:
            candidate = f"{scope}.{name}" if scope else name
            if candidate in self.types:
                return self.types[candidate]
            if not scope:
                return None
            scope = scope.rpartition(".")[0]

    def methods(self, owner: ApexType, name: str) -> list[_Node]:
        return [
            _Node(owner["name"], method=m)
            for m in owner["methods"]
            if m["name"].lower() == name.lower()
        ]

    def constructors(self, owner: ApexType) -> list[_Node]:
        return [_Node(owner["name"], method=m) for m in owner["methods"] if m["isConstructor"]]

    def variable_type(self, node: _Node, variable: str) -> str | None:
        body = node.body
        variable = variable.strip()
        if variable in body["locals"]:
            return body["locals"][variable]
        if node.method is not None and variable in node.method["parameters"]:
            return node.method["parameters"][variable]
        scope = node.owner.lower()
        while scope:
            owner = self.types.get(scope)
            for field in owner["fields"] if owner else []:
                if field["name"] == variable:
                    return field["type"]
            scope = scope.rpartition(".")[0]
        return None

    def expression_type(self, node: _Node, expression: str) -> str | None:
        """The declared type of a simple expression: ``new T(...)`` or a variable."""
        created = _NEW_RE.match(expression.strip())
        if created:
            generic = _GENERIC_RE.match(expression.strip()[3:].strip().split("{")[0].split("(")[0])
            return generic.group(1) if generic else created.group(1)
        declared = self.variable_type(node, expression)
        if declared is None:
            return None
        generic = _GENERIC_RE.match(declared)
        return generic.group(1) if generic else declared

    def successors(self, node: _Node) -> Iterable[_Node]:
        body = node.body
        for creation in body["creations"]:
            created = self.resolve_type(creation["type"], node.owner)
            if created is not None:
                yield from self.constructors(created)
        for call in body["calls"]:
            yield from self._call_targets(node, call["qualifier"], call["name"], call["args"])
        for dml in body["dml"]:
            sobject = self.expression_type(node, dml["target"])
            if sobject is None:
                continue
            for trigger in self.triggers:
                fires = any(event.endswith(dml["operation"]) for event in trigger["events"])
                if trigger["object"].lower() == sobject.lower() and fires:
                    yield _Node(trigger["name"], trigger=trigger)

    def _call_targets(
        self, node: _Node, qualifier: str | None, name: str, args: list[str]
    ) -> Iterable[_Node]:
        lowered = name.lower()
        if qualifier is not None and qualifier.lower() == "system" and lowered == "enqueuejob":
            # The job's execute runs at Test.stopTest (or later, in an org).
            job = self.expression_type(node, args[0]) if args else None
            job_type = self.resolve_type(job, node.owner) if job else None
            if job_type is not None:
                yield from self.methods(job_type, "execute")
            return
        if qualifier is not None and qualifier.lower() == "test" and lowered == "setmock":
            mock = self.expression_type(node, args[1]) if len(args) > 1 else None
            mock_type = self.resolve_type(mock, node.owner) if mock else None
            if mock_type is not None:
                yield from self.methods(mock_type, "respond")
            return
        if qualifier is None:
            scope = node.owner
            while scope:
                owner = self.types.get(scope.lower())
                targets = self.methods(owner, name) if owner else []
                if targets:
                    yield from targets
                    return
                scope = scope.rpartition(".")[0]
            return
        owner = self.resolve_type(qualifier, node.owner)
        if owner is None:
            declared = self.expression_type(node, qualifier)
            owner = self.resolve_type(declared, node.owner) if declared else None
        if owner is not None:
            yield from self.methods(owner, name)


def _is_test_method(method: Method) -> bool:
    return any(m in _TEST_MODIFIERS for m in method["modifiers"])


def estimate_coverage(class_name: str, parsed: Sequence[ParsedFile]) -> CoverageEstimate:
    """Estimate how much of ``class_name`` (with its inner classes) the ``@IsTest``
    methods among ``parsed`` reach. ``parsed`` must come from ``parse_apex(...,
    outline=True)`` and include the class, its test class and the triggers."""
    types: list[ApexType] = []
    triggers: list[Trigger] = []
    for item in parsed:
        if item.outline is None:
            raise ValueError(f"{item.path}: no outline (syntax errors, or outline=False)")
        types.extend(item.outline.get("types", []))
        if "trigger" in item.outline:
            triggers.append(item.outline["trigger"])
    program = _Program(types, triggers)
    target = program.resolve_type(class_name, "")
    if target is None:
        raise ValueError(f"class {class_name!r} is not among the parsed files")

    roots = [_Node(t["name"], method=m) for t in types for m in t["methods"] if _is_test_method(m)]
    seen: dict[str, _Node] = {}
    stack = list(roots)
    while stack:
        node = stack.pop()
        if node.key in seen:
            continue
        seen[node.key] = node
        stack.extend(program.successors(node))

    prefix = target["name"].lower()
    target_methods = [
        _Node(t["name"], method=m)
        for t in types
        if t["name"].lower() == prefix or t["name"].lower().startswith(prefix + ".")
        for m in t["methods"]
    ]
    executable: set[int] = set()
    covered: set[int] = set()
    unreached: list[str] = []
    for node in target_methods:
        lines = set(node.body["statementLines"])
        executable |= lines
        if node.key in seen:
            covered |= lines
        else:
            unreached.append(node.key)
    return CoverageEstimate(
        class_name=target["name"],
        executable_lines=frozenset(executable),
        covered_lines=frozenset(covered),
        unreached_methods=tuple(sorted(unreached)),
        triggers_reached={t["name"]: f"trigger {t['name']}" in seen for t in triggers},
    )
