"""The default Case fields and transcript are ``trylast`` implementations of the
extension hooks (opencx_salesforce/defaults.py), registered by the runtime:
extensions and defaults go through one path, and an extension still wins.

Drives the reference host over its contract and the emulator over HTTP.
"""

from __future__ import annotations

from typing import Any

from handoff_support import cases, comments_of, converse, handoff_and_wait

from opencx_salesforce import hookimpl
from opencx_salesforce.cases.transcript import plan_transcript
from opencx_salesforce.devhost.stack import start_stack
from opencx_salesforce.extensions import DEFAULTS_PLUGIN
from opencx_salesforce.hookcalls import plugin_order
from opencx_salesforce.models import Message
from opencx_salesforce.store.memory import MemoryStore


class LastWordTranscript:
    """Marked trylast like the defaults, and loaded before the plugin starts, as
    a host loads its plugins: still asked before the defaults."""

    @hookimpl(trylast=True)
    def salesforce_transcript(self, messages: list[Message]) -> list[str]:
        return [" | ".join(m.text for m in messages)]


class PlanField:
    @hookimpl
    def salesforce_case_fields(self, fields: dict[str, Any]) -> dict[str, Any]:
        # The defaults' fields are there to read, and any of them may be replaced.
        return {"Subject": f"[gold] {fields['Subject']}"}


async def test_the_defaults_are_a_trylast_plugin_asked_after_every_extension() -> None:
    stack = await start_stack(store=MemoryStore(), extra_plugins={"compact": LastWordTranscript()})
    try:
        pm = stack.host.plugin_manager
        defaults = pm.get_plugin(DEFAULTS_PLUGIN)
        assert defaults is not None
        for hook in ("salesforce_transcript", "salesforce_case_fields"):
            [impl] = [i for i in getattr(pm.hook, hook).get_hookimpls() if i.plugin is defaults]
            assert impl.trylast, hook
        assert plugin_order(pm, "salesforce_transcript") == ["compact", DEFAULTS_PLUGIN]

        texts = ["Where is my parcel?", "It says delivered."]
        session = await converse(stack.host, texts=texts)
        case_id = await handoff_and_wait(stack.host, session.id)
        [body] = [c["CommentBody"] for c in comments_of(stack, case_id)]
        assert body == f"Conversation transcript · conversation {session.id}\n\n" + " | ".join(
            m.text for m in session.messages
        )
    finally:
        await stack.close()
    assert stack.host.plugin_manager.get_plugin(DEFAULTS_PLUGIN) is None  # stopped: gone


async def test_without_an_extension_the_defaults_write_the_numbered_parts() -> None:
    stack = await start_stack(store=MemoryStore(), extra_plugins={"plan": PlanField()})
    try:
        session = await converse(stack.host, texts=["hello", "there"])
        case_id = await handoff_and_wait(stack.host, session.id)
        title = f"Conversation transcript · conversation {session.id}"
        bodies = [c["CommentBody"] for c in comments_of(stack, case_id)]
        stored = await stack.host.get_session(session.id)
        assert stored is not None
        assert bodies == [c.body for c in plan_transcript(stored.messages, title=title)]
        assert bodies[0].startswith(f"{title} — part 1 of 1\n\n")
        [case] = cases(stack)
        assert case["Subject"] == "[gold] My order never arrived"
        assert case["Case_From__c"] == "opencx"  # a default the extension left alone
    finally:
        await stack.close()


class Mutator:
    """Changes the ``fields`` it is given, and answers nothing."""

    @hookimpl(tryfirst=True)
    def salesforce_case_fields(self, fields: dict[str, Any]) -> None:
        fields["Subject"] = "MUTATED"
        fields["Injected"] = 1


class Observer:
    def __init__(self) -> None:
        self.seen: dict[str, Any] | None = None

    @hookimpl
    def salesforce_case_fields(self, fields: dict[str, Any]) -> None:
        self.seen = dict(fields)


async def test_a_plugin_that_changes_fields_changes_nothing_for_the_next() -> None:
    observer = Observer()
    stack = await start_stack(
        store=MemoryStore(), extra_plugins={"observer": observer, "mutator": Mutator()}
    )
    try:
        assert plugin_order(stack.host.plugin_manager, "salesforce_case_fields")[0] == "mutator"
        session = await converse(stack.host, texts=["Where is my parcel?"])
        case_id = await handoff_and_wait(stack.host, session.id)
        [case] = [c for c in cases(stack) if c["Id"] == case_id]
        assert observer.seen is not None
        assert observer.seen["Subject"] == case["Subject"] != "MUTATED"
        assert "Injected" not in observer.seen
    finally:
        await stack.close()
