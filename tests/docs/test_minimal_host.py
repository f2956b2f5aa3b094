"""The example host of docs/host-implementers.md works, and the guide quotes it as
it is.

The example (docs/examples/minimal_host.py) loads the installed plugin by its
entry point, mounts its routes and runs it against the Salesforce emulator over
HTTP: an admin saves the credentials through the mounted settings route, the
plugin connects, a handoff becomes a Case, the org's deployed package rings the
webhook when a rep replies, the reply reaches the session, the contact's next
message lands on the same Case, and closing the Case resolves the session.
"""

from __future__ import annotations

import asyncio
import importlib.util
import re
import socket
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from types import ModuleType
from typing import Any, TypeVar

import aiohttp
import pytest

from opencx_salesforce import Contact, HandoffReason, Message, Role, Session
from opencx_salesforce.emulator.app import Emulator
from opencx_salesforce.emulator.org import Org
from opencx_salesforce.emulator.package import deploy_package
from opencx_salesforce.emulator.seed import DEMO_CLIENT_ID, DEMO_CLIENT_SECRET, default_org
from opencx_salesforce.models import SessionStatus
from opencx_salesforce.plugin import SalesforcePlugin
from opencx_salesforce.store.memory import MemoryStore

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "docs" / "examples" / "minimal_host.py"
GUIDE = ROOT / "docs" / "host-implementers.md"
ADMIN_TOKEN = "example-admin-token-0123456789"
REP = "rep@acme.example"

T = TypeVar("T")


def load_example() -> ModuleType:
    spec = importlib.util.spec_from_file_location("docs_minimal_host", EXAMPLE)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


async def eventually(probe: Callable[[], Awaitable[T | None]], what: str) -> T:
    for _ in range(500):
        value = await probe()
        if value:
            return value
        await asyncio.sleep(0.02)
    raise AssertionError(f"timed out waiting for {what}")


class Running:
    def __init__(self, host: Any, org: Org, base_url: str) -> None:
        self.host = host
        self.org = org
        self.base_url = base_url


@pytest.fixture
async def running() -> AsyncIterator[Running]:
    example = load_example()
    port = free_port()
    public_url = f"http://127.0.0.1:{port}"
    redirect_uri = f"{public_url}/integrations/salesforce/oauth/callback"
    emulator = Emulator()
    org = emulator.state.add_org(default_org(callback_urls=(redirect_uri,)))
    await emulator.start()
    config = {
        "salesforce": {
            "login_url": emulator.base_url,
            "dev_mode": True,
            "backoff_base_seconds": 0.05,
            "backoff_cap_seconds": 0.5,
        }
    }
    host = example.MinimalHost(
        MemoryStore(), public_url=public_url, config=config, admin_token=ADMIN_TOKEN
    )
    await host.start("127.0.0.1", port)
    try:
        yield Running(host, org, public_url)
    finally:
        await host.stop()
        await emulator.close()


async def connect(running: Running) -> None:
    """Save the Connected App's credentials as a script does (the settings route
    with the admin's bearer token), then connect with the client-credentials
    flow, which needs no browser."""
    url = f"{running.base_url}/integrations/salesforce/admin/credentials"
    form = {
        "client_id": DEMO_CLIENT_ID,
        "client_secret": DEMO_CLIENT_SECRET,
        "login_url": running.host.plugin_config("salesforce")["login_url"],
    }
    headers = {"Authorization": f"Bearer {ADMIN_TOKEN}", "Accept": "application/json"}
    async with (
        aiohttp.ClientSession() as http,
        http.post(url, data=form, headers=headers) as answer,
    ):
        body = await answer.json()
        assert answer.status == 200, body
        assert body["ok"] is True
    plugin = running.host.pm.get_plugin("salesforce")
    assert isinstance(plugin, SalesforcePlugin) and plugin.is_running
    await plugin.runtime.tokens.connect_client_credentials()
    # The package of this install: signed with its secret, as the download is.
    deploy_package(running.org, plugin.runtime.webhook_url, plugin.runtime.signing_secret)


def agent_messages(session: Session) -> list[Message]:
    return [m for m in session.messages if m.role == Role.AGENT]


async def test_the_example_host_runs_the_plugin_end_to_end(running: Running) -> None:
    await connect(running)
    host, org = running.host, running.org
    session = Session(
        id="s_example_1",
        topic="My parcel never arrived",
        summary="The customer's parcel is late.",
        contact=Contact(name="Jane Doe", email="jane@example.com"),
        messages=[Message(id="m0", role=Role.CONTACT, text="Where is my parcel?")],
    )

    await host.handoff(session, HandoffReason(code="requested"))

    async def case_id() -> str | None:
        value = host.sessions[session.id].metadata.get("salesforce_case_id")
        return str(value) if value else None

    case = await eventually(case_id, "the Case")
    record = org.get("Case", case)
    assert record is not None
    assert record["Subject"] == "My parcel never arrived"
    assert record["Case_From__c"] == "opencx"

    # A rep's public reply: the deployed package rings the example host's webhook.
    rep = org.user_id_for(REP)
    comment = org.create(
        "CaseComment",
        {"ParentId": case, "CommentBody": "It ships today.", "IsPublished": True},
        user_id=rep,
    )

    async def delivered() -> list[Message]:
        return agent_messages(host.sessions[session.id])

    [reply] = await eventually(delivered, "the rep's reply")
    assert reply.text == "It ships today."
    assert reply.external_id is not None and reply.external_id.startswith(comment[:15])

    # The contact writes again: the message lands on the same Case.
    await host.contact_wrote(session.id, "Thanks, what is the tracking number?")

    async def appended() -> bool:
        bodies = [r["CommentBody"] for r in org.rows("CaseComment", False) if r["ParentId"] == case]
        return any("tracking number" in b for b in bodies)

    await eventually(appended, "the appended message")

    # The rep closes the Case: the session is resolved.
    org.update("Case", case, {"Status": "Closed"}, user_id=rep)

    async def resolved() -> bool:
        return bool(host.sessions[session.id].status == SessionStatus.RESOLVED)

    await eventually(resolved, "the resolved session")


async def test_the_settings_routes_are_mounted_and_guarded(running: Running) -> None:
    url = f"{running.base_url}/integrations/salesforce/admin/status.json"
    async with aiohttp.ClientSession() as http:
        async with http.get(url) as anonymous:
            assert anonymous.status == 403
        headers = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
        async with http.get(url, headers=headers) as admin:
            assert admin.status == 200
            assert (await admin.json())["state"] == "not_configured"


EXCERPT = re.compile(r"<!-- excerpt: (\S+) -->\n```python\n(.*?)\n```", re.DOTALL)


def test_the_guide_quotes_the_example_as_it_is() -> None:
    excerpts = EXCERPT.findall(GUIDE.read_text(encoding="utf-8"))
    assert excerpts, "docs/host-implementers.md quotes nothing from the example"
    source = EXAMPLE.read_text(encoding="utf-8")
    for path, code in excerpts:
        assert path == "docs/examples/minimal_host.py"
        assert code in source, f"the guide's excerpt no longer matches {path}:\n{code}"
