"""The test kit for a host that is not the reference host: the
``salesforce_connect`` fixture connects the plugin of docs/examples/minimal_host.py
through its settings routes, and a rep's reply comes back to that host."""

from __future__ import annotations

import importlib.util
import socket
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from opencx_salesforce import Contact, HandoffReason, Message, Role, Session
from opencx_salesforce.devhost.waiting import wait_for
from opencx_salesforce.emulator.app import Emulator
from opencx_salesforce.emulator.pytest_plugin import ConnectHost
from opencx_salesforce.store.memory import MemoryStore

EXAMPLE = Path(__file__).resolve().parents[2] / "docs" / "examples" / "minimal_host.py"
ADMIN_TOKEN = "custom-host-admin-token-0123456789"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@pytest.fixture
async def custom_host(salesforce_emulator: Emulator) -> AsyncIterator[Any]:
    spec = importlib.util.spec_from_file_location("kit_minimal_host", EXAMPLE)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    port = free_port()
    host = module.MinimalHost(
        MemoryStore(),
        public_url=f"http://127.0.0.1:{port}",
        config={"salesforce": {"dev_mode": True, "login_url": salesforce_emulator.base_url}},
        admin_token=ADMIN_TOKEN,
    )
    await host.start("127.0.0.1", port)
    try:
        yield host
    finally:
        await host.stop()


async def test_salesforce_connect_connects_a_custom_host_through_its_settings_routes(
    custom_host: Any, salesforce_connect: ConnectHost
) -> None:
    org = await salesforce_connect(
        f"{custom_host.public_url}/integrations/salesforce",
        admin_headers={"Authorization": f"Bearer {ADMIN_TOKEN}"},
    )
    session = Session(
        id="s_kit_1",
        topic="Where is my parcel?",
        contact=Contact(email="jane@example.com"),
        messages=[Message(id="m0", role=Role.CONTACT, text="It never came.")],
    )
    await custom_host.handoff(session, HandoffReason(code="requested"))

    async def case_id() -> str | None:
        value = custom_host.sessions[session.id].metadata.get("salesforce_case_id")
        return str(value) if value else None

    case = await wait_for(case_id, timeout=15, what="the Case")
    # The package points at the custom host: a rep's reply comes back to it.
    org.create(
        "CaseComment",
        {"ParentId": case, "CommentBody": "A new one ships today.", "IsPublished": True},
        user_id=org.user_id_for("rep@acme.example"),
    )

    async def replied() -> list[Message]:
        return [m for m in custom_host.sessions[session.id].messages if m.role == Role.AGENT]

    [reply] = await wait_for(replied, timeout=15, what="the rep's reply")
    assert reply.text == "A new one ships today."
