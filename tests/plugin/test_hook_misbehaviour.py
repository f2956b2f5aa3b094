"""An extension hook that raises asyncio.CancelledError, or never answers, is a
hook error naming its plugin, as any other: the first passed every ``except
Exception`` as the caller's own cancellation (a host's handoff ended with no
Case and no word; a job was taken again every two minutes, for ever), and the
second held its job, silent, until its lease ran out and it began again."""

from __future__ import annotations

import asyncio
from typing import Any

import pluggy
import pytest

from opencx_salesforce import Session, extensions, hookimpl
from opencx_salesforce.emulator.pytest_plugin import Handoff, HandoffFailed, StartStack
from opencx_salesforce.errors import ConfigError
from opencx_salesforce.hookcalls import CancelledInHook, call_each


class CancelledFields:
    @hookimpl
    async def salesforce_case_fields(self, session: Session, fields: dict[str, Any]) -> Any:
        gone = asyncio.get_running_loop().create_future()
        gone.cancel()  # a task this hook awaits was cancelled elsewhere
        return await gone


class SilentFields:
    @hookimpl
    async def salesforce_case_fields(self, session: Session, fields: dict[str, Any]) -> Any:
        await asyncio.Event().wait()  # an answer that never comes


@pytest.mark.parametrize(
    ("plugin", "problem"),
    [
        (CancelledFields(), "salesforce_case_fields: it raised asyncio.CancelledError"),
        (SilentFields(), "salesforce_case_fields: it did not answer within 0.2 s"),
    ],
    ids=["its-own-cancelled-error", "no-answer"],
)
async def test_a_hook_that_cancels_or_never_answers_dead_letters_naming_it(
    salesforce_stack: StartStack,
    salesforce_handoff: Handoff,
    monkeypatch: pytest.MonkeyPatch,
    plugin: object,
    problem: str,
) -> None:
    monkeypatch.setattr(extensions, "HOOK_TIMEOUT", 0.2)
    stack = await salesforce_stack(plugins={"misbehaving": plugin})
    session = await stack.host.create_session(topic="Refund")
    with pytest.raises(HandoffFailed) as failed:
        await salesforce_handoff(stack, session.id)
    assert "plugin 'misbehaving'" in failed.value.error
    assert problem in failed.value.error
    assert list(stack.org.rows("Case", False)) == []


NAME = "misbehaviour-test"
spec = pluggy.HookspecMarker(NAME)
impl = pluggy.HookimplMarker(NAME)


class Specs:
    @spec
    def answer(self) -> Any: ...


class Cancels:
    @impl
    async def answer(self) -> Any:
        raise asyncio.CancelledError


class Answers:
    @impl
    def answer(self) -> str:
        return "fine"


async def test_call_each_tells_of_a_hooks_cancelled_error_and_goes_on() -> None:
    pm = pluggy.PluginManager(NAME)
    pm.add_hookspecs(Specs)
    pm.register(Answers(), name="answers")
    pm.register(Cancels(), name="cancels")
    errors: list[tuple[str, str, Exception]] = []
    found = await call_each(pm, "answer", {}, lambda *e: errors.append(e))
    assert found == [("answers", "fine")]
    [(plugin, hook, error)] = errors
    assert (plugin, hook) == ("cancels", "answer") and isinstance(error, CancelledInHook)


async def test_the_callers_own_cancel_still_cancels_it() -> None:
    pm = pluggy.PluginManager(NAME)
    pm.add_hookspecs(Specs)

    class Waits:
        @impl
        async def answer(self) -> Any:
            await asyncio.Event().wait()

    pm.register(Waits(), name="waits")
    task = asyncio.create_task(call_each(pm, "answer", {}, lambda *e: None))
    await asyncio.sleep(0.05)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task


class Fields:
    @hookimpl
    def salesforce_case_fields(self, session: Session, fields: dict[str, Any]) -> Any:
        return {"Priority": "High"}


async def test_an_extension_under_the_defaults_name_is_refused_at_start(
    salesforce_stack: StartStack,
) -> None:
    # It was taken off without a word when the plugin started: its fields
    # were left out of every Case.
    with pytest.raises(ConfigError, match="register it under another name"):
        await salesforce_stack(plugins={"salesforce.defaults": Fields()})
