"""Calling a hook one plugin at a time (opencx_salesforce/hookcalls.py): what
is worked out once per hook follows plugins registered, unregistered and
blocked between calls, and new hookspecs."""

from __future__ import annotations

from typing import Any

import pluggy

from opencx_salesforce.hookcalls import _plan, call_each, call_plugin, plugin_order

NAME = "hookcalls-test"
spec = pluggy.HookspecMarker(NAME)
impl = pluggy.HookimplMarker(NAME)


class Specs:
    @spec
    def answer(self, n: int) -> Any: ...


class Early:
    @impl
    def answer(self, n: int) -> str:
        return f"early {n}"


class Late:
    @impl
    async def answer(self, n: int) -> str:
        return f"late {n}"


class First:
    @impl(tryfirst=True)
    def answer(self, n: int) -> str:
        return f"first {n}"


def errors(name: str, hook: str, exc: Exception) -> None:
    raise AssertionError(f"{name}.{hook}: {exc}")


async def test_what_each_plugin_answers_follows_registrations_between_calls() -> None:
    pm = pluggy.PluginManager(NAME)
    pm.add_hookspecs(Specs)
    pm.register(Early(), name="early")
    assert await call_each(pm, "answer", {"n": 1}, errors) == [("early", "early 1")]

    pm.register(Late(), name="late")  # after the hook was called once
    assert plugin_order(pm, "answer") == ["late", "early"]
    assert await call_each(pm, "answer", {"n": 2}, errors) == [
        ("late", "late 2"),
        ("early", "early 2"),
    ]
    assert await call_plugin(pm, "answer", "early", {"n": 3}) == ["early 3"]

    pm.register(First(), name="first")
    assert plugin_order(pm, "answer") == ["first", "late", "early"]

    pm.unregister(name="late")
    assert await call_each(pm, "answer", {"n": 4}, errors) == [
        ("first", "first 4"),
        ("early", "early 4"),
    ]
    assert await call_plugin(pm, "answer", "late", {"n": 5}) == []

    pm.set_blocked("early")
    assert await call_each(pm, "answer", {"n": 6}, errors) == [("first", "first 6")]

    # Another plugin object under a name used before is the one called.
    class Again:
        @impl
        def answer(self, n: int) -> str:
            return f"again {n}"

    pm.register(Again(), name="late")
    assert await call_plugin(pm, "answer", "late", {"n": 7}) == ["again 7"]


async def test_a_firstresult_spec_added_later_is_honoured() -> None:
    pm = pluggy.PluginManager(NAME)
    pm.register(Early(), name="early")  # its hook has no spec yet
    pm.add_hookspecs(Specs)
    assert await call_plugin(pm, "answer", "early", {"n": 1}) == ["early 1"]

    class FirstResultSpecs:
        @spec(firstresult=True)
        def pick(self, n: int) -> Any: ...

    class Picker:
        @impl
        def pick(self, n: int) -> int:
            return n * 2

    pm.register(Picker(), name="picker")
    assert await call_plugin(pm, "pick", "picker", {"n": 1}) == [2]  # no spec: a list
    pm.add_hookspecs(FirstResultSpecs)
    assert await call_plugin(pm, "pick", "picker", {"n": 21}) == [42]  # one value


async def test_a_plugin_without_the_hook_leaves_its_plan_alone() -> None:
    pm = pluggy.PluginManager(NAME)
    pm.add_hookspecs(Specs)
    pm.register(Early(), name="early")
    plan = _plan(pm, "answer")

    class Unrelated:
        pass

    pm.register(Unrelated(), name="unrelated")
    assert _plan(pm, "answer") is plan  # nothing it calls changed: not worked out again
    assert await call_each(pm, "answer", {"n": 1}, errors) == [("early", "early 1")]
    pm.register(Late(), name="late")
    assert _plan(pm, "answer") is not plan
    assert await call_each(pm, "answer", {"n": 2}, errors) == [
        ("late", "late 2"),
        ("early", "early 2"),
    ]
