"""Baselines (a) and (c): what a team writes by hand with ``simple-salesforce``.

(a), naive: create the Case, then one CaseComment per transcript message, then
keep the Case Id. (c), competent: create the Case, then its comments through
sObject Collections (``composite/sobjects`` through simple-salesforce's
documented ``restful`` call, 200 records a call, ``allOrNone``): 2 calls for up
to 200 messages. A thread pool runs ``concurrency`` conversations at once. One shared client
(its ``requests.Session`` pools the connections), as such code usually has.

simple-salesforce builds every URL as ``https://{instance}/services/data/...``
from ``instance_url`` (``simple_salesforce/api.py``: ``self.base_url =
f'https://{self.sf_instance}/services/data/v{self.sf_version}/'``), so it cannot
speak plain http to the loopback emulator. Its documented ``session`` argument
("Custom requests session ... enables the use of requests Session features not
otherwise exposed by simple_salesforce") takes a ``requests.Session`` whose
transport adapter sends the very same request over http instead: no TLS proxy,
and no contender pays for TLS, so the comparison stays even. The adapter's pool
holds as many connections as there are threads (requests' default of 10 would
make the 100-thread run open and drop connections).

The access token comes from the emulator's OAuth client-credentials flow, as the
plugin's does; the client is built with the documented direct-session arguments
``Salesforce(instance_url=..., session_id=..., version=...)``.
"""

from __future__ import annotations

from typing import Any, cast

import requests
from emulator_process import BenchOrg
from handoff_workload import (
    CellResult,
    CellSpec,
    Dispenser,
    case_fields,
    cell_result,
    closed_loop_threads,
    comment_body,
    comment_collections,
    conversation,
    peak_rss_mb,
)
from requests.adapters import HTTPAdapter
from simple_salesforce.api import Salesforce, SFType

from opencx_salesforce.devhost.collector import settled_for_serving
from opencx_salesforce.models import Session

API_VERSION = "62.0"


class PlainHttpAdapter(HTTPAdapter):
    """Sends simple-salesforce's https:// requests as http:// (loopback only)."""

    def send(self, request: requests.PreparedRequest, *args: Any, **kwargs: Any) -> Any:
        if request.url and request.url.startswith("https://127.0.0.1:"):
            request.url = "http://" + request.url[len("https://") :]
        return super().send(request, *args, **kwargs)


def access_token(org: BenchOrg) -> tuple[str, str]:
    """(access token, instance URL) from the client-credentials flow."""
    response = requests.post(
        f"{org.base_url}/services/oauth2/token",
        data={
            "grant_type": "client_credentials",
            "client_id": org.client_id,
            "client_secret": org.client_secret,
        },
        timeout=30,
    )
    response.raise_for_status()
    body = response.json()
    return str(body["access_token"]), str(body["instance_url"])


def client(org: BenchOrg, connections: int) -> Salesforce:
    token, instance_url = access_token(org)
    session = requests.Session()
    session.mount("https://", PlainHttpAdapter(pool_connections=1, pool_maxsize=connections))
    return Salesforce(
        instance_url=instance_url, session_id=token, version=API_VERSION, session=session
    )


class HandWritten:
    """The integration: one call for the Case, one per message."""

    def __init__(self, sf: Salesforce) -> None:
        self.sf = sf
        # sf.<Object> is how simple-salesforce names an sObject; the attribute is
        # typed as any of its API families, so say which one this is.
        self._cases = cast(SFType, sf.Case)
        self._comments = cast(SFType, sf.CaseComment)
        self.case_ids: dict[str, str] = {}  # session id -> Case Id: "store the Id"

    def handoff(self, session: Session) -> None:
        case = self._cases.create(case_fields(session))
        case_id = str(case["id"])
        for message in session.messages:
            self._comments.create(
                {"ParentId": case_id, "CommentBody": comment_body(message), "IsPublished": False}
            )
        self.case_ids[session.id] = case_id


class Collections(HandWritten):
    """The competent integration: the Case, then its comments 200 at a time."""

    def handoff(self, session: Session) -> None:
        case = self._cases.create(case_fields(session))
        case_id = str(case["id"])
        for body in comment_collections(case_id, session):
            answer = self.sf.restful("composite/sobjects", method="POST", json=body)
            if not answer or not all(r.get("success") for r in answer):
                raise RuntimeError(f"comments refused: {answer}")
        self.case_ids[session.id] = case_id


def measure(
    spec: CellSpec, org: BenchOrg, admin: AdminCalls, integration_class: type[HandWritten]
) -> CellResult:
    integration = integration_class(client(org, max(10, spec.concurrency)))
    sessions = [conversation(n, spec.messages) for n in range(spec.max_handoffs + 1)]
    integration.handoff(sessions.pop())  # warm-up, not counted
    admin.set_latency(spec.latency_ms)
    before = admin.api_calls()
    setup_rss = peak_rss_mb()
    server_cpu = admin.cpu_seconds()
    work = Dispenser(sessions, spec.budget_seconds, max(spec.min_handoffs, spec.concurrency))
    with settled_for_serving(spec.gc_threshold):
        outcome = closed_loop_threads(work, spec.concurrency, integration.handoff)
    server_cpu = admin.cpu_seconds() - server_cpu
    after = admin.api_calls()
    return cell_result(
        spec, outcome, before, after, setup_rss_mb=setup_rss, server_cpu_seconds=server_cpu
    )


class AdminCalls:
    """The emulator's admin API, with requests (this process has no event loop)."""

    def __init__(self, base_url: str) -> None:
        self.base_url = base_url
        self._http = requests.Session()
        self.org: BenchOrg | None = None

    def new_org(self) -> BenchOrg:
        response = self._http.post(f"{self.base_url}/_bench/orgs", timeout=30)
        response.raise_for_status()
        body = response.json()
        self.org = BenchOrg(self.base_url, body["orgId"], body["clientId"], body["clientSecret"])
        return self.org

    def drop_org(self, org: BenchOrg) -> None:
        self._http.delete(f"{self.base_url}/_bench/orgs/{org.org_id}", timeout=30)

    def _org(self) -> BenchOrg:
        assert self.org is not None, "new_org() first"
        return self.org

    def api_calls(self) -> dict[str, int]:
        response = self._http.get(f"{self._org().admin_url}/stats", timeout=30)
        response.raise_for_status()
        return {str(k): int(v) for k, v in response.json()["api"]["byEndpoint"].items()}

    def set_latency(self, latency_ms: float) -> None:
        url = f"{self._org().admin_url}/faults"
        response = self._http.post(url, json={"api": {"latency_ms": latency_ms}}, timeout=30)
        response.raise_for_status()

    def cpu_seconds(self) -> float:
        response = self._http.get(f"{self.base_url}/_bench/cpu", timeout=30)
        response.raise_for_status()
        return float(response.json()["cpuSeconds"])


def run_cell(
    spec: CellSpec, base_url: str, integration_class: type[HandWritten] = HandWritten
) -> CellResult:
    """One cell in this (thread-based, asyncio-free) process."""
    admin = AdminCalls(base_url)
    org = admin.new_org()
    try:
        return measure(spec, org, admin, integration_class)
    finally:
        admin.drop_org(org)
