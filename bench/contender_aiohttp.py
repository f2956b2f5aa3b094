"""Baselines (b) and (d): hand-written async integrations with aiohttp.

(b), naive: the same per-record calls as baseline (a), but concurrent: create the
Case, then every CaseComment at once with ``asyncio.gather``, then keep the Case
Id. So the comparison with the plugin is not only sync against async: this one
overlaps its round trips, and still spends one API call per message.

(d), competent: what a team that read the REST API guide writes: create the Case,
then all its comments through sObject Collections (``POST
/composite/sobjects``, up to 200 records a call, ``allOrNone``), 2 calls for a
transcript of up to 200 messages.

Both use one ``ClientSession`` with aiohttp's default connector (at most 100
connections), like the plugin's.
"""

from __future__ import annotations

import asyncio
from typing import Any

import aiohttp
from emulator_process import BenchOrg, EmulatorControl
from handoff_workload import (
    CellResult,
    CellSpec,
    Dispenser,
    case_fields,
    cell_result,
    closed_loop_async,
    comment_body,
    comment_collections,
    conversation,
    peak_rss_mb,
)

from opencx_salesforce.devhost.collector import settled_for_serving
from opencx_salesforce.models import Session

API_VERSION = "62.0"


class SalesforceError(RuntimeError):
    pass


async def access_token(http: aiohttp.ClientSession, org: BenchOrg) -> tuple[str, str]:
    """(access token, instance URL) from the client-credentials flow."""
    form = {
        "grant_type": "client_credentials",
        "client_id": org.client_id,
        "client_secret": org.client_secret,
    }
    async with http.post(f"{org.base_url}/services/oauth2/token", data=form) as response:
        response.raise_for_status()
        body = await response.json()
    return str(body["access_token"]), str(body["instance_url"])


class HandWrittenAsync:
    """The integration: one call for the Case, then one per message, concurrently."""

    def __init__(self, http: aiohttp.ClientSession, instance_url: str, token: str) -> None:
        self._http = http
        self._sobjects = f"{instance_url}/services/data/v{API_VERSION}/sobjects"
        self._headers = {"Authorization": f"Bearer {token}"}
        self.case_ids: dict[str, str] = {}  # session id -> Case Id: "store the Id"

    async def _create(self, sobject: str, fields: dict[str, Any]) -> str:
        url = f"{self._sobjects}/{sobject}/"
        async with self._http.post(url, json=fields, headers=self._headers) as response:
            body = await response.json()
            if response.status != 201:
                raise SalesforceError(f"{sobject}: HTTP {response.status}: {body}")
            return str(body["id"])

    async def handoff(self, session: Session) -> None:
        case_id = await self._create("Case", case_fields(session))
        await asyncio.gather(
            *[
                self._create(
                    "CaseComment",
                    {
                        "ParentId": case_id,
                        "CommentBody": comment_body(message),
                        "IsPublished": False,
                    },
                )
                for message in session.messages
            ]
        )
        self.case_ids[session.id] = case_id


class CollectionsAsync(HandWrittenAsync):
    """The competent integration: the Case, then its comments 200 at a time."""

    async def handoff(self, session: Session) -> None:
        case_id = await self._create("Case", case_fields(session))
        url = self._sobjects.removesuffix("/sobjects") + "/composite/sobjects"
        for body in comment_collections(case_id, session):
            async with self._http.post(url, json=body, headers=self._headers) as response:
                answer = await response.json()
                if response.status != 200 or not all(r.get("success") for r in answer):
                    raise SalesforceError(f"comments: HTTP {response.status}: {answer}")
        self.case_ids[session.id] = case_id


async def measure(
    spec: CellSpec,
    control: EmulatorControl,
    org: BenchOrg,
    http: aiohttp.ClientSession,
    integration_class: type[HandWrittenAsync] = HandWrittenAsync,
) -> CellResult:
    token, instance_url = await access_token(http, org)
    integration = integration_class(http, instance_url, token)
    sessions = [conversation(n, spec.messages) for n in range(spec.max_handoffs + 1)]
    await integration.handoff(sessions.pop())  # warm-up, not counted
    await control.set_latency(org, spec.latency_ms)
    before = await control.api_calls(org)
    setup_rss = peak_rss_mb()
    server_cpu = await control.cpu_seconds()
    work = Dispenser(sessions, spec.budget_seconds, max(spec.min_handoffs, spec.concurrency))
    with settled_for_serving(spec.gc_threshold):
        outcome = await closed_loop_async(work, spec.concurrency, integration.handoff)
    server_cpu = await control.cpu_seconds() - server_cpu
    after = await control.api_calls(org)
    return cell_result(
        spec, outcome, before, after, setup_rss_mb=setup_rss, server_cpu_seconds=server_cpu
    )


async def run_cell(
    spec: CellSpec, base_url: str, integration_class: type[HandWrittenAsync] = HandWrittenAsync
) -> CellResult:
    # The admin calls use their own session, so they never wait for a connection
    # behind the integration's 100.
    async with aiohttp.ClientSession() as admin, aiohttp.ClientSession() as http:
        control = EmulatorControl(base_url, admin)
        org = await control.new_org()
        try:
            return await measure(spec, control, org, http, integration_class)
        finally:
            await control.drop_org(org)
