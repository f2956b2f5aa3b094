"""A stand-in for the plugin's webhook route (a real aiohttp server on loopback that
records what the simulated package POSTs), and small helpers to drive an org."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from typing import Any

import aiohttp
from aiohttp import web
from emulator_support import RestCaller

from opencx_salesforce.emulator.package import ApexRuntime

SECRET = "whsec_emulator_test_0123456789"
WEBHOOK_PATH = "/integrations/salesforce/webhook/tok_0123456789"


@dataclass(frozen=True)
class Call:
    path: str
    headers: dict[str, str]
    body: bytes
    at: float  # time.monotonic() when it arrived


@dataclass
class WebhookReceiver:
    """Answers ``status`` to every call and keeps them in arrival order."""

    status: int = 202
    calls: list[Call] = field(default_factory=list)
    url: str = ""
    _arrived: asyncio.Condition = field(default_factory=asyncio.Condition)

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_post("/{tail:.*}", self.handle)
        return app

    async def handle(self, request: web.Request) -> web.Response:
        call = Call(request.path, dict(request.headers), await request.read(), time.monotonic())
        async with self._arrived:
            self.calls.append(call)
            self._arrived.notify_all()
        return web.json_response({"status": "queued"}, status=self.status)

    async def wait_for(self, count: int, timeout: float = 5.0) -> list[Call]:
        async with self._arrived:
            await asyncio.wait_for(
                self._arrived.wait_for(lambda: len(self.calls) >= count), timeout
            )
        return self.calls


@dataclass
class Deployed:
    """An org with the package deployed, its REST caller, and where webhooks land."""

    rest: RestCaller
    runtime: ApexRuntime
    receiver: WebhookReceiver


async def admin_post(
    http: aiohttp.ClientSession, base_url: str, path: str, body: dict[str, Any]
) -> tuple[int, Any]:
    async with http.post(f"{base_url}/_emulator/{path}", json=body) as response:
        return response.status, await response.json()


async def new_case(rest: RestCaller, **fields: Any) -> str:
    body = {"Subject": "Printer on fire", "Origin": "Web", "SuppliedEmail": "cust@example.com"}
    body.update(fields)
    reply = await rest.post("sobjects/Case", body)
    assert reply.status == 201, reply.body
    return str(reply.body["id"])


async def opencx_case(rest: RestCaller, **fields: Any) -> str:
    return await new_case(rest, Case_From__c="opencx", **fields)


async def rep_action(
    rest: RestCaller, case_id: str, action: str, body: dict[str, Any] | None = None
) -> tuple[int, Any]:
    path = f"orgs/{rest.org.id}/cases/{case_id}/{action}"
    return await admin_post(rest.http, rest.base_url, path, body or {})
