"""Helpers of the reply tests (imported by basename, as the other test folders do).

A test here is a small world: the Salesforce emulator with one org, one or more
reference hosts running the plugin on a shared store, a rep who writes on Cases
(through the emulator's validated write path, as the rep's browser would), and a
doorbell that sends the webhook calls the deployed Apex would send, signed with
the contract's own helper.
"""

from __future__ import annotations

import json
import secrets
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import aiohttp

from opencx_salesforce.apex import contract
from opencx_salesforce.clock import SYSTEM_CLOCK, Clock
from opencx_salesforce.devhost.host import DevHost
from opencx_salesforce.devhost.stack import start_host
from opencx_salesforce.devhost.waiting import wait_for
from opencx_salesforce.emulator.app import Emulator
from opencx_salesforce.emulator.org import Org
from opencx_salesforce.emulator.package.runtime import ApexRuntime
from opencx_salesforce.emulator.seed import DEMO_CLIENT_ID, DEMO_CLIENT_SECRET
from opencx_salesforce.models import Contact, HandoffReason, Role, Session
from opencx_salesforce.plugin import SalesforcePlugin
from opencx_salesforce.runtime import Runtime
from opencx_salesforce.store.base import ItemState, Store

SECRET = "whsec_replies_test_0123456789abcdef"
REP = "rep@acme.example"
PORTAL_USER = "portal@customer.example"
ADMIN = "admin@acme.example"  # the Connected App's Run As user: the plugin's own user

PLUGIN_SETTINGS: dict[str, Any] = {
    "webhook_signing_secret": SECRET,
    # Tests run sweeps themselves; the background one only runs at start.
    "sweep_interval_seconds": 3600,
    "backoff_base_seconds": 0.05,
    "backoff_cap_seconds": 0.5,
}


@dataclass
class Node:
    """One running host instance with its plugin."""

    host: DevHost
    plugin: SalesforcePlugin
    url: str

    @property
    def runtime(self) -> Runtime:
        assert self.plugin.is_running, "the plugin is not started"
        return self.plugin.runtime

    @property
    def webhook_url(self) -> str:
        return f"{self.url}/integrations/salesforce/webhook/{self.runtime.webhook_token}"


@dataclass
class World:
    emulator: Emulator
    org: Org
    store: Store
    http: aiohttp.ClientSession
    settings: dict[str, Any]
    nodes: list[Node] = field(default_factory=list)

    @property
    def node(self) -> Node:
        return self.nodes[0]

    async def start_node(self, store: Store | None = None, clock: Clock = SYSTEM_CLOCK) -> Node:
        host, plugin, url = await start_host(
            store=store or self.store,
            emulator_url=self.emulator.base_url,
            plugin_settings=self.settings,
            clock=clock,
        )
        node = Node(host, plugin, url)
        self.nodes.append(node)
        self.emulator.state.auth.set_callback_urls(
            DEMO_CLIENT_ID, [n.runtime.redirect_uri for n in self.nodes]
        )
        if not await node.runtime.tokens.credentials():
            tokens = node.runtime.tokens
            await tokens.save_credentials(
                self.emulator.base_url, DEMO_CLIENT_ID, DEMO_CLIENT_SECRET
            )
            await tokens.connect_client_credentials()
        await settle_first_sweep(node.runtime)
        return node

    async def stop_node(self, node: Node) -> None:
        await node.host.stop()
        self.nodes.remove(node)

    # --- counting the org's API calls ---------------------------------------------------
    def queries(self) -> int:
        """SOQL queries the org has served (the plugin's reads: ``queryAll``, so
        that a deleted or merged Case is seen too)."""
        calls = self.org.api_calls.by_endpoint
        return int(calls["query"] + calls["queryAll"])

    def api_calls(self) -> int:
        return int(sum(self.org.api_calls.by_endpoint.values()))


WorldFactory = Callable[..., Awaitable[World]]


async def settle_first_sweep(services: Runtime) -> None:
    """The sweep that runs at start: wait until it has finished (or failed, or
    found nothing connected yet), so a test's own counts do not mix with it."""

    async def done() -> bool:
        status = services.reply_status
        passes = status.sweeps + status.sweeps_skipped + status.sweeps_not_connected
        return passes > 0 or status.last_sweep_error is not None

    await wait_for(done, what="the start-up sweep")


async def sweep(services: Runtime) -> Any:
    """Run one sweep now (waiting while another instance holds the lock)."""

    async def once() -> Any:
        return await services.sweeper.run_once()

    return await wait_for(once, what="a sweep")


async def idle(world: World) -> None:
    """Until no notify job is waiting or running on the shared store."""

    async def quiet() -> bool:
        items = await world.node.runtime.outbox.items()
        return not [i for i in items if i.state is not ItemState.DEAD]

    await wait_for(quiet, what="the outbox to drain")


# --- conversations -------------------------------------------------------------------


async def handed_off(node: Node, *, name: str = "Jane Doe", email: str | None = None) -> Session:
    """A conversation handed to a human, its Case created."""
    host = node.host
    session = await host.create_session(
        contact=Contact(name=name, email=email or f"{secrets.token_hex(4)}@example.com"),
        topic="My parcel never arrived",
        summary="Tracking says delivered; nothing at the door.",
    )
    await host.post_message(session.id, Role.CONTACT, "Where is my parcel?")
    await host.post_message(session.id, Role.BOT, "Let me get someone to help.")
    await host.handoff(session.id, HandoffReason(code="requested"))
    await case_of(node, session.id)
    return session


async def case_of(node: Node, session_id: str) -> str:
    async def linked() -> str | None:
        session = await node.host.get_session(session_id)
        assert session is not None
        value = session.metadata.get("salesforce_case_id")
        return str(value) if value else None

    return str(await wait_for(linked, what=f"a Case for {session_id}"))


async def agent_messages(node: Node, session_id: str) -> list[tuple[str, str | None, str | None]]:
    """(text, author, external_id) of every agent message on the session."""
    session = await node.host.get_session(session_id)
    assert session is not None
    return [(m.text, m.author, m.external_id) for m in session.messages if m.role == Role.AGENT]


# --- the rep's hands ------------------------------------------------------------------


@dataclass
class Rep:
    """Writes on Cases as a user of the org would, through the emulator's
    validated write path (the same one its REST API uses)."""

    org: Org
    username: str = REP

    @property
    def user_id(self) -> str:
        return self.org.user_id_for(self.username)

    def comment(self, case_id: str, body: str, *, public: bool = True) -> str:
        return self.org.create(
            "CaseComment",
            {"ParentId": case_id, "CommentBody": body, "IsPublished": public},
            user_id=self.user_id,
        )

    def email(
        self,
        case_id: str,
        text: str,
        *,
        incoming: bool = False,
        status: str = "3",
        from_name: str = "Riley Rep",
    ) -> str:
        return self.org.create(
            "EmailMessage",
            {
                "ParentId": case_id,
                "Incoming": incoming,
                "Status": status,
                "Subject": "Re: My parcel never arrived",
                "FromName": from_name,
                "FromAddress": "support@acme.example",
                "ToAddress": "jane@example.com",
                "TextBody": text,
            },
            user_id=self.user_id,
        )

    def set_status(self, case_id: str, status: str) -> None:
        self.org.update("Case", case_id, {"Status": status}, user_id=self.user_id)


# --- the doorbell (what the deployed Apex sends) -------------------------------------------


def event_body(org: Org, event: str, case_id: str | None, record_id: str | None) -> bytes:
    body = {
        "event": event,
        "orgId": org.id,
        "caseId": case_id,
        "recordId": record_id,
        "occurredAt": datetime.now(UTC).strftime(contract.OCCURRED_AT_STRFTIME),
    }
    return json.dumps(body, separators=(",", ":")).encode()


@dataclass
class Answer:
    status: int
    body: Any


async def post(
    http: aiohttp.ClientSession,
    url: str,
    body: bytes,
    *,
    secret: str | None = SECRET,
    timestamp: str | None = None,
    signature: str | None = None,
    headers: Mapping[str, str] | None = None,
    content_type: str = "application/json",
) -> Answer:
    stamp = timestamp if timestamp is not None else str(int(time.time()))
    sent = {contract.HEADER_CONTENT_TYPE: content_type, contract.HEADER_TIMESTAMP: stamp}
    if signature is not None:
        sent[contract.HEADER_SIGNATURE] = signature
    elif secret is not None:
        sent[contract.HEADER_SIGNATURE] = contract.sign(secret, stamp, body)
    sent.update(headers or {})
    async with http.post(url, data=body, headers=sent) as response:
        text = await response.text()
        try:
            parsed = json.loads(text)
        except ValueError:
            parsed = text
        return Answer(response.status, parsed)


async def ring(
    world: World, node: Node, event: str, case_id: str, record_id: str | None = None
) -> Answer:
    """One signed webhook call, as the Apex sends it. The same event rung again
    is a second callout, signed at a later second than the last one: an
    identical call in the same second would be a replay, which the webhook
    refuses (409)."""
    record = record_id or case_id
    body = event_body(world.org, event, case_id, record)
    stamp = max(int(time.time()), _LAST_STAMP.get(body, 0) + 1)
    _LAST_STAMP[body] = stamp
    return await post(world.http, node.webhook_url, body, timestamp=str(stamp))


# The timestamp each body was last rung with (see ring).
_LAST_STAMP: dict[bytes, int] = {}


# --- the rep's hands, with the package deployed (the ``apex`` fixture) ---------------


async def act(world: World, case_id: str, action: str, **values: Any) -> dict[str, Any]:
    """The rep's hands over HTTP (emulator/rep.py)."""
    url = f"{world.emulator.base_url}/_emulator/orgs/{world.org.id}/cases/{case_id}/{action}"
    async with world.http.post(url, json=values) as response:
        body: dict[str, Any] = await response.json()
        assert response.status in (200, 201), body
        return body


async def settled(world: World, apex: ApexRuntime) -> None:
    """The org's callouts sent and the host's notify jobs done."""
    await apex.drain()
    await idle(world)
