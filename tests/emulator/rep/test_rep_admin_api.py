"""``/_emulator/orgs/{orgId}/stats``, ``/faults``, ``/package`` and ``/webhooks``."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web
from emulator_support import RestCaller
from rep_support import act, admin, opencx_case


async def test_stats_count_api_calls_by_endpoint(rest: RestCaller) -> None:
    await opencx_case(rest)
    await rest.get("query?q=SELECT+Id+FROM+Case")
    await rest.get("query?q=SELECT+Id+FROM+Case")
    status, stats = await admin(rest, "GET", "stats")
    assert status == 200
    assert stats["orgId"] == rest.org.id
    assert stats["api"]["byEndpoint"] == {"sobjects": 1, "query": 2}
    assert stats["api"]["total"] == 3 and stats["api"]["limit"] == 15000
    assert stats["package"]["deployed"] is False
    assert stats["webhooks"]["sent"] == 0


async def test_deploy_then_reply_shows_in_stats_and_the_log(
    rest: RestCaller, aiohttp_server: Callable[..., Awaitable[Any]]
) -> None:
    arrived = asyncio.Event()

    async def hook(request: web.Request) -> web.Response:
        arrived.set()
        return web.json_response({}, status=202)

    app = web.Application()
    app.router.add_post("/hook", hook)
    server = await aiohttp_server(app)
    url = str(server.make_url("/hook"))

    status, body = await admin(rest, "POST", "package", {"webhookUrl": "ftp://nope"})
    assert status == 400 and "webhook_url" in body["error"]
    status, body = await admin(rest, "POST", "package", {"webhookUrl": url, "signingSecret": None})
    assert status == 200 and body["deployed"] is True
    assert body["namedCredentialEndpoint"] == url
    status, body = await admin(rest, "GET", "package")
    assert body["triggers"] == {
        "OpenCXCaseCommentTrigger": True,
        "OpenCXEmailMessageTrigger": True,
        "OpenCXCaseTrigger": True,
    }

    case_id = await opencx_case(rest)
    await act(rest, case_id, "reply", text="Hello")
    await asyncio.wait_for(arrived.wait(), 5)
    for _ in range(50):  # the counters move once the callout's answer is read
        status, stats = await admin(rest, "GET", "stats")
        if stats["webhooks"]["delivered"]:
            break
        await asyncio.sleep(0.02)
    assert stats["webhooks"]["sent"] == stats["webhooks"]["delivered"] == 1
    status, log = await admin(rest, "GET", "webhooks")
    [entry] = log["webhooks"]
    assert entry["event"] == "case_comment.created" and entry["case_id"] == case_id
    assert (entry["outcome"], entry["status"], entry["endpoint"]) == ("delivered", 202, url)


async def test_api_fault_knobs(rest: RestCaller) -> None:
    status, body = await admin(rest, "POST", "faults", {"api": {"latency_ms": 250}})
    assert status == 200 and body["api"]["latency_ms"] == 250
    started = time.monotonic()
    assert (await rest.get("limits")).status == 200
    assert time.monotonic() - started >= 0.25

    await admin(rest, "POST", "faults", {"reset": True, "api": {"outage_seconds": 60}})
    reply = await rest.get("limits")
    assert reply.status == 503
    status, body = await admin(rest, "GET", "faults")
    assert body["api"]["in_outage"] is True and body["api"]["latency_ms"] == 0
    await admin(rest, "POST", "faults", {"api": {"end_outage": True}})
    assert (await rest.get("limits")).status == 200
