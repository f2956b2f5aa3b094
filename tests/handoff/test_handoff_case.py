"""A handoff becomes one Case with its whole transcript, in one API call.

Drives the reference host over its contract and the emulator over HTTP.
[src: api_rest resources_composite_composite_post.htm: a composite request
counts as one call toward the API limits]
"""

from __future__ import annotations

import pytest
from handoff_support import api_calls, case_id_of, cases, comments_of, converse, handoff_and_wait

from opencx_salesforce import hookimpl
from opencx_salesforce.cases.transcript import COMMENT_BODY_MAX_BYTES
from opencx_salesforce.devhost.stack import Stack
from opencx_salesforce.emulator.schema import custom_field
from opencx_salesforce.emulator.seed import CustomFieldSeed
from opencx_salesforce.models import Channel, Contact


async def test_hook_on_handoff_makes_one_case_with_every_field(stack: Stack) -> None:
    texts = ["Where is my parcel?", "Let me check.", "It says delivered but it is not here."]
    session = await converse(stack.host, texts=texts)
    before = api_calls(stack)

    case_id = await handoff_and_wait(stack.host, session.id)

    [case] = cases(stack)
    assert case["Id"] == case_id
    assert case["Subject"] == "My order never arrived"
    assert case["Description"].startswith("Customer reports a missing parcel")
    assert case["Case_From__c"] == "opencx"
    assert case["OpenCX_Session_Id__c"] == session.id
    assert case["Origin"] == "Email"
    assert case["Priority"] == "High"
    assert case["SuppliedName"] == "Jane Doe"
    assert case["SuppliedEmail"] == "jane@example.com"
    assert case["CaseNumber"]

    bodies = [c["CommentBody"] for c in comments_of(stack, case_id)]
    joined = "\n".join(bodies)
    positions = [joined.index(t) for t in texts]
    assert positions == sorted(positions), "transcript out of order"
    assert all(c["IsPublished"] is False for c in comments_of(stack, case_id))
    # One composite: the Case, its comments, the Contact lookup and the link.
    assert api_calls(stack) - before == 1
    assert stack.org.api_calls.by_endpoint["composite"] == 1


async def test_a_known_contact_is_linked_to_the_case(stack: Stack) -> None:
    contact_id = stack.org.create(
        "Contact", {"FirstName": "Jane", "LastName": "Doe", "Email": "jane@example.com"}
    )
    session = await converse(stack.host, texts=["hello"])
    case_id = await handoff_and_wait(stack.host, session.id)
    assert stack.org.get("Case", case_id)["ContactId"] == contact_id  # type: ignore[index]
    # The match is cached (written with the session's link to its Case).
    key = session.contact.key()
    assert key is not None
    assert await stack.runtime.index.contact_match(key) == contact_id

    # The next conversation of that contact costs no lookup.
    before = api_calls(stack)
    other = await converse(
        stack.host, texts=["again"], contact=Contact(name="Jane", email="JANE@example.com")
    )
    await handoff_and_wait(stack.host, other.id)
    assert api_calls(stack) - before == 1


@pytest.mark.parametrize("count", [1, 20, 200])
async def test_one_api_call_for_transcripts_up_to_200_messages(stack: Stack, count: int) -> None:
    texts = [f"message {n} " + "lorem ipsum " * (n % 50) for n in range(count)]
    session = await converse(stack.host, texts=texts, contact=Contact(name="Anon"))
    before = api_calls(stack)
    case_id = await handoff_and_wait(stack.host, session.id)
    assert api_calls(stack) - before == 1
    bodies = [c["CommentBody"] for c in comments_of(stack, case_id)]
    assert all(len(b.encode()) <= COMMENT_BODY_MAX_BYTES for b in bodies)
    joined = "".join(bodies)
    for text in texts:
        assert text in joined


async def test_long_and_non_ascii_messages_are_split_on_utf8_bytes(stack: Stack) -> None:
    texts = ["€" * 5000, "日本語" * 1500, "👍🏽" * 900]
    session = await converse(stack.host, texts=texts, contact=Contact(name="Anon"))
    case_id = await handoff_and_wait(stack.host, session.id)
    bodies = [c["CommentBody"] for c in comments_of(stack, case_id)]
    assert len(bodies) >= 5
    assert all(len(b.encode()) <= COMMENT_BODY_MAX_BYTES for b in bodies)


async def test_subject_is_cut_cleanly_to_255_characters(stack: Stack) -> None:
    session = await converse(stack.host, texts=["hi"], topic="word " * 100, channel=Channel.CHAT)
    case_id = await handoff_and_wait(stack.host, session.id)
    case = stack.org.get("Case", case_id)
    assert case is not None
    assert len(case["Subject"]) <= 255 and case["Subject"].endswith("…")
    assert case["Origin"] == "Web"


class PlanFields:
    @hookimpl
    def salesforce_case_fields(self, session):  # type: ignore[no-untyped-def]
        return {"OpenCX_Language__c": session.metadata.get("plan")}


class BadFields:
    @hookimpl
    def salesforce_case_fields(self):  # type: ignore[no-untyped-def]
        return {"Not_A_Field__c": "x"}


async def test_hook_salesforce_case_fields_reach_the_case(stack: Stack) -> None:
    stack.host.plugin_manager.register(PlanFields(), name="plan-fields")
    session = await converse(stack.host, texts=["hi"], metadata={"plan": "gold"})
    case_id = await handoff_and_wait(stack.host, session.id)
    case = stack.org.get("Case", case_id)
    assert case is not None and case["OpenCX_Language__c"] == "gold"


async def test_a_bad_hook_field_is_a_clear_error_naming_the_plugin(stack: Stack) -> None:
    from handoff_support import wait_for

    from opencx_salesforce.store.base import ItemState

    stack.host.plugin_manager.register(BadFields(), name="bad-fields")
    session = await converse(stack.host, texts=["hi"])
    await stack.host.handoff(session.id)

    async def buried() -> list[object]:
        return await stack.runtime.outbox.items(ItemState.DEAD)

    [dead] = await wait_for(buried, what="the dead letter")
    assert dead.last_error is not None
    assert "bad-fields" in dead.last_error and "Not_A_Field__c" in dead.last_error
    assert cases(stack) == []


class SneakyFields:
    @hookimpl
    def salesforce_case_fields(self):  # type: ignore[no-untyped-def]
        return {"case_from__c": "not-opencx"}  # field names are case-insensitive


class BrokenTranscript:
    @hookimpl
    def salesforce_transcript(self):  # type: ignore[no-untyped-def]
        raise ValueError("template missing")


class PoliteTranscript:
    @hookimpl
    async def salesforce_transcript(self):  # type: ignore[no-untyped-def]
        return None  # an async "no opinion" must let the default render


async def _dead_letter(stack: Stack) -> str:
    from handoff_support import wait_for

    from opencx_salesforce.store.base import ItemState

    async def buried() -> list[object]:
        return await stack.runtime.outbox.items(ItemState.DEAD)

    [dead] = await wait_for(buried, what="the dead letter")
    assert dead.last_error is not None
    return str(dead.last_error)


class NotANumber:
    @hookimpl
    def salesforce_case_fields(self):  # type: ignore[no-untyped-def]
        return {"Score__c": float("nan")}


async def test_a_number_json_cannot_carry_is_refused_naming_the_plugin(stack: Stack) -> None:
    # It passed the number check and went out as NaN, which is not JSON: a
    # request Salesforce refuses whole, with an error that names no plugin.
    stack.org.add_custom_field("Case", custom_field(CustomFieldSeed("Case", "Score__c", "double")))
    stack.host.plugin_manager.register(NotANumber(), name="scores")
    session = await converse(stack.host, texts=["hi"])
    await stack.host.handoff(session.id)
    error = await _dead_letter(stack)
    assert "plugin 'scores': field 'Score__c': is nan, which no Salesforce field holds" in error
    assert cases(stack) == []


async def test_a_protected_field_cannot_be_overridden_in_another_case(stack: Stack) -> None:
    stack.host.plugin_manager.register(SneakyFields(), name="sneaky")
    session = await converse(stack.host, texts=["hi"])
    await stack.host.handoff(session.id)
    error = await _dead_letter(stack)
    assert "sneaky" in error and "case_from__c" in error
    assert cases(stack) == []


async def test_a_failing_transcript_hook_is_named(stack: Stack) -> None:
    stack.host.plugin_manager.register(BrokenTranscript(), name="broken-transcript")
    session = await converse(stack.host, texts=["hi"])
    await stack.host.handoff(session.id)
    error = await _dead_letter(stack)
    assert "broken-transcript" in error and "template missing" in error


async def test_an_async_hook_answering_none_leaves_the_default(stack: Stack) -> None:
    stack.host.plugin_manager.register(PoliteTranscript(), name="polite")
    session = await converse(stack.host, texts=["hello there"])
    case_id = await handoff_and_wait(stack.host, session.id)
    [comment] = comments_of(stack, case_id)
    assert "Conversation transcript" in comment["CommentBody"]
    assert "hello there" in comment["CommentBody"]


async def test_create_contacts_makes_and_links_a_contact_for_a_first_seen_person() -> None:
    from opencx_salesforce.devhost.stack import start_stack
    from opencx_salesforce.store.memory import MemoryStore

    stack = await start_stack(store=MemoryStore(), plugin_settings={"create_contacts": True})
    try:
        session = await converse(
            stack.host, texts=["hi"], contact=Contact(name="Ana María Pérez", email="ana@x.test")
        )
        before = api_calls(stack)
        case_id = await handoff_and_wait(stack.host, session.id)
        [contact] = [dict(r) for r in stack.org.rows("Contact", False)]
        assert (contact["FirstName"], contact["LastName"]) == ("Ana María", "Pérez")
        assert stack.org.get("Case", case_id)["ContactId"] == contact["Id"]  # type: ignore[index]
        # The handoff's composite, then one more for the new Contact.
        assert api_calls(stack) - before == 2

        # Seen before now: linked from the cache, no new Contact, one call.
        again = await converse(stack.host, texts=["me again"], contact=Contact(email="ana@x.test"))
        await stack.runtime.outbox.run_until_idle()
        before = api_calls(stack)
        # (the first Case is open, so this conversation joins it)
        assert await handoff_and_wait(stack.host, again.id) == case_id
        assert api_calls(stack) - before == 1
        assert len(list(stack.org.rows("Contact", False))) == 1
    finally:
        await stack.close()


class PlanOnNewField:
    @hookimpl
    def salesforce_case_fields(self):  # type: ignore[no-untyped-def]
        return {"Plan__c": "gold"}


async def test_a_field_deployed_after_the_dead_letter_is_found_by_the_retry(stack: Stack) -> None:
    # The admin deploys the missing field and retries. The re-read had sent
    # If-Modified-Since in whole seconds: a field deployed within the second of
    # the kept describe's stamp answered 304, and every retry failed until the
    # host restarted.
    stack.host.plugin_manager.register(PlanOnNewField(), name="plan-field")
    session = await converse(stack.host, texts=["hi"])
    await stack.host.handoff(session.id)
    assert "no such field on Case" in await _dead_letter(stack)
    stack.org.add_custom_field("Case", custom_field(CustomFieldSeed("Case", "Plan__c", "string")))
    assert await stack.runtime.outbox.retry_dead() == 1
    case_id = await case_id_of(stack.host, session.id)
    case = stack.org.get("Case", case_id)
    assert case is not None and case["Plan__c"] == "gold"
