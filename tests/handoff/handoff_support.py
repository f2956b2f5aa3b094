"""Helpers of the handoff tests: drive the reference host, wait for the plugin,
read what the emulated org holds."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from opencx_salesforce.devhost.host import DevHost
from opencx_salesforce.devhost.stack import Stack
from opencx_salesforce.devhost.waiting import wait_for
from opencx_salesforce.models import Channel, Contact, HandoffReason, Role, Session

T0 = datetime(2026, 11, 25, 1, 0, tzinfo=UTC)


async def converse(
    host: DevHost,
    *,
    texts: list[str],
    contact: Contact | None = None,
    topic: str = "My order never arrived",
    summary: str = "Customer reports a missing parcel; tracking shows delivered.",
    channel: Channel = Channel.EMAIL,
    priority: str | None = "high",
    metadata: dict[str, Any] | None = None,
) -> Session:
    """A conversation: the contact and the bot take turns with ``texts``. Returns
    the session as the host holds it afterwards."""
    session = await host.create_session(
        channel=channel,
        contact=contact or Contact(name="Jane Doe", email="jane@example.com"),
        topic=topic,
        summary=summary,
        language="en",
        priority=priority,
        metadata=metadata or {},
    )
    for n, text in enumerate(texts):
        role = Role.CONTACT if n % 2 == 0 else Role.BOT
        await host.post_message(session.id, role, text)
    fresh = await host.get_session(session.id)
    assert fresh is not None
    return fresh


async def handoff_and_wait(host: DevHost, session_id: str, timeout: float = 15.0) -> str:
    await host.handoff(session_id, HandoffReason(code="requested", detail="asked for a human"))
    return await case_id_of(host, session_id, timeout)


async def case_id_of(host: DevHost, session_id: str, timeout: float = 15.0) -> str:
    async def linked() -> str | None:
        session = await host.get_session(session_id)
        assert session is not None
        value = session.metadata.get("salesforce_case_id")
        return str(value) if value else None

    return str(await wait_for(linked, timeout=timeout, what=f"a Case for {session_id}"))


def cases(stack: Stack) -> list[dict[str, Any]]:
    return [dict(r) for r in stack.org.rows("Case", False)]


def comments_of(stack: Stack, case_id: str) -> list[dict[str, Any]]:
    rows = [dict(r) for r in stack.org.rows("CaseComment", False) if r["ParentId"] == case_id]
    return sorted(rows, key=lambda r: (r["CreatedDate"], r["Id"]))


def api_calls(stack: Stack) -> int:
    return int(sum(stack.org.api_calls.by_endpoint.values()))


def ts(minutes: int) -> datetime:
    return T0 + timedelta(minutes=minutes)
