"""The same contact, again: appended while the Case is open, a new linked Case
after it closed (DESIGN.md, the moments table)."""

from __future__ import annotations

from handoff_support import api_calls, case_id_of, cases, comments_of, converse, wait_for

from opencx_salesforce.devhost.stack import Stack
from opencx_salesforce.models import Contact, Role, SessionStatus

JANE = Contact(name="Jane Doe", email="jane@example.com")


async def test_hook_on_contact_reengage_appends_in_one_call_while_open(stack: Stack) -> None:
    session = await converse(stack.host, texts=["My parcel is missing."], contact=JANE)
    await stack.host.handoff(session.id)
    case_id = await case_id_of(stack.host, session.id)
    before_comments = len(comments_of(stack, case_id))
    before_calls = api_calls(stack)

    await stack.host.post_message(session.id, Role.CONTACT, "Any news? Order #4711.")

    async def appended() -> bool:
        return len(comments_of(stack, case_id)) > before_comments

    await wait_for(appended, what="the appended message")
    assert len(cases(stack)) == 1
    assert "Order #4711" in comments_of(stack, case_id)[-1]["CommentBody"]
    assert api_calls(stack) - before_calls == 1  # one sObject Collections call


async def test_a_new_conversation_of_the_same_contact_joins_the_open_case(stack: Stack) -> None:
    first = await converse(stack.host, texts=["Parcel missing."], contact=JANE)
    await stack.host.handoff(first.id)
    case_id = await case_id_of(stack.host, first.id)

    second = await converse(
        stack.host,
        texts=["Hello again, about my parcel."],
        contact=Contact(email="JANE@example.com"),
    )
    await stack.host.handoff(second.id)
    assert await case_id_of(stack.host, second.id) == case_id
    assert len(cases(stack)) == 1
    bodies = "\n".join(c["CommentBody"] for c in comments_of(stack, case_id))
    assert "New conversation from this customer" in bodies
    assert "Hello again, about my parcel." in bodies


async def test_after_the_case_closed_a_new_case_is_linked_to_it(stack: Stack) -> None:
    first = await converse(stack.host, texts=["Parcel missing."], contact=JANE)
    await stack.host.handoff(first.id)
    old_case = await case_id_of(stack.host, first.id)

    # A rep closes the Case; the plugin learns it (here from its sweep: no
    # package is deployed in this org, so no webhook rings).
    stack.org.update("Case", old_case, {"Status": "Closed"})
    await stack.runtime.sweeper.run_once()

    async def resolved() -> bool:
        current = await stack.host.get_session(first.id)
        return current is not None and current.status == SessionStatus.RESOLVED

    await wait_for(resolved, what="the session to resolve")

    second = await converse(stack.host, texts=["It broke again."], contact=JANE)
    await stack.host.handoff(second.id)
    new_case = await case_id_of(stack.host, second.id)
    assert new_case != old_case
    record = stack.org.get("Case", new_case)
    assert record is not None and record["ParentId"] == old_case
    assert record["OpenCX_Session_Id__c"] == second.id


async def test_the_same_conversation_handed_off_again_after_closure_gets_a_new_case(
    stack: Stack,
) -> None:
    session = await converse(stack.host, texts=["Parcel missing."], contact=JANE)
    await stack.host.handoff(session.id)
    old_case = await case_id_of(stack.host, session.id)
    stack.org.update("Case", old_case, {"Status": "Closed"})
    await stack.runtime.sweeper.run_once()

    async def resolved() -> bool:
        current = await stack.host.get_session(session.id)
        return current is not None and current.status == SessionStatus.RESOLVED

    await wait_for(resolved, what="the session to resolve")
    await stack.host.post_message(session.id, Role.CONTACT, "It happened again.")
    await stack.host.handoff(session.id)

    async def relinked() -> str | None:
        current = await stack.host.get_session(session.id)
        value = current.metadata.get("salesforce_case_id") if current else None
        return value if value and value != old_case else None

    new_case = await wait_for(relinked, what="a second Case")
    record = stack.org.get("Case", new_case)
    assert record is not None and record["ParentId"] == old_case
    assert record["OpenCX_Session_Id__c"] == f"{session.id}~2"
    assert len(cases(stack)) == 2
