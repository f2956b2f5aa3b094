"""The plugin's Prometheus metrics, scraped as Prometheus would, after work that
the emulator can vouch for."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from operations_support import PREFIX, scrape

from opencx_salesforce.demo.scenario import Demo
from opencx_salesforce.demo.timeline import Timeline
from opencx_salesforce.devhost.stack import start_host, start_stack
from opencx_salesforce.devhost.waiting import wait_for
from opencx_salesforce.emulator.app import Emulator
from opencx_salesforce.models import Contact, HandoffReason
from opencx_salesforce.outbox.queue import Job
from opencx_salesforce.salesforce.call_kind import call_kind
from opencx_salesforce.salesforce.errors import NeedsReauthorization
from opencx_salesforce.store.memory import MemoryStore

M = "opencx_salesforce_"


async def test_metrics_after_the_demo_count_its_handoff_calls_reply_and_sweep(
    tmp_path: Path,
) -> None:
    demo = Demo(Timeline(plain=True), workdir=tmp_path)
    try:
        assert await demo.run()
        assert demo.org is not None
        runtime = demo.plugin.runtime

        async def drained() -> bool:
            # The last job may still be acking after the session resolved.
            return not await runtime.outbox.items()

        await wait_for(drained, timeout=10, what="the outbox to drain")
        got = await scrape(f"{demo.host_url}{PREFIX}/metrics", demo.admin_token)

        # One handoff, stored then done; one append; no retries, nothing dead.
        assert got.value(f"{M}handoffs_total", outcome="submitted") == 1
        assert got.value(f"{M}handoffs_total", outcome="done") == 1
        assert got.value(f"{M}handoffs_total", outcome="dead") is None
        assert got.value(f"{M}outbox_jobs_total", kind="append", outcome="done") == 1
        assert got.value(f"{M}dead_letters") == 0
        assert got.value(f"{M}outbox_depth", state="ready") == 0
        assert got.value(f"{M}outbox_oldest_age_seconds") == 0
        # Every REST call the org counted, by kind: the handoff, the append and
        # the demo's sweep (its queries in one request) are one composite each;
        # the reply and the closure one notify read each.
        org_calls = sum(demo.org.api_calls.by_endpoint.values())
        assert got.total(f"{M}salesforce_api_calls_total") == org_calls == runtime.client.calls
        assert got.value(f"{M}salesforce_api_calls_total", kind="composite") == 3
        assert got.total(f"{M}salesforce_errors_total") == 0
        # The org's own usage figure, from Sforce-Limit-Info on the last answer.
        assert runtime.client.usage is not None
        assert got.value(f"{M}org_api_usage_calls") == runtime.client.usage.used > 0
        assert got.value(f"{M}org_api_usage_limit") == runtime.client.usage.limit
        # The rep's reply and the closure each rang the webhook; the internal note
        # did not. One reply delivered, found by the webhook, with its latency.
        assert got.value(f"{M}webhook_calls_total", result="accepted", status="202", reason="") == (
            runtime.reply_status.webhooks_accepted
        )
        assert runtime.reply_status.webhooks_accepted >= 2
        assert got.value(f"{M}replies_delivered_total", via="webhook") == 1
        assert got.value(f"{M}replies_delivered_total", via="sweep") == 0
        assert got.value(f"{M}reply_delivery_latency_seconds_count") == 1
        # The demo ran one sweep by hand; the one at start found no open Case
        # and cost nothing (the sweep calls are all in the composite count above).
        assert got.value(f"{M}sweeps_total", result="done") in (1, 2)
        assert got.value(f"{M}token_refreshes_total") == 0
    finally:
        await demo.close_all()


async def test_salesforce_errors_and_token_refreshes_are_counted_by_code() -> None:
    stack = await start_stack(
        store=MemoryStore(),
        plugin_settings={"backoff_base_seconds": 0.01, "backoff_cap_seconds": 0.02},
    )
    try:
        runtime = stack.runtime
        token = stack.host.settings.admin_token.get_secret_value()
        # The next write meets a locked row; then every access token expires.
        stack.org.faults.fail_next("lock", 1)
        session = await stack.host.create_session(
            contact=Contact(name="Ada", email="ada@example.com"), topic="Refund"
        )
        await stack.host.handoff(session.id, HandoffReason(code="requested"))

        async def linked() -> object:
            current = await stack.host.get_session(session.id)
            return current and current.metadata.get("salesforce_case_id")

        await wait_for(linked, timeout=15, what="the Case")
        stack.emulator.state.auth.expire_access_tokens(stack.org.id)
        await runtime.client.limits()

        got = await scrape(f"{stack.host_url}{PREFIX}/metrics", token)
        assert got.value(f"{M}salesforce_errors_total", code="UNABLE_TO_LOCK_ROW") == 1
        assert got.value(f"{M}salesforce_errors_total", code="INVALID_SESSION_ID") == 1
        assert got.value(f"{M}handoffs_total", outcome="retried") == 1
        assert got.value(f"{M}handoffs_total", outcome="done") == 1
        assert got.value(f"{M}token_refreshes_total") == 1
        assert got.value(f"{M}salesforce_api_calls_total", kind="limits") == 2
    finally:
        await stack.close()


async def test_metrics_are_for_administrators_only() -> None:
    stack = await start_stack(store=MemoryStore(), connect=False)
    try:
        async with aiohttp.ClientSession() as http:
            # A browser is sent to sign in; a scraper with a wrong token is refused.
            url = f"{stack.host_url}{PREFIX}/metrics"
            browser = {"Accept": "text/html,application/xhtml+xml,*/*;q=0.8"}
            async with http.get(url, headers=browser, allow_redirects=False) as anonymous:
                assert anonymous.status == 303
                assert anonymous.headers["Location"].startswith("/admin/login?next=")
            # A scraper sent without its token is told so, not sent to a form
            # it would follow and fail to parse (Prometheus' own Accept header).
            scraper = {"Accept": "application/openmetrics-text;version=1.0.0,text/plain;q=0.5"}
            async with http.get(url, headers=scraper) as untold:
                assert untold.status == 401
                assert untold.headers["WWW-Authenticate"].startswith("Bearer ")
                assert "Authorization: Bearer <admin_token>" in await untold.text()
            wrong = {"Authorization": "Bearer not-the-token"}
            async with http.get(f"{stack.host_url}{PREFIX}/metrics", headers=wrong) as refused:
                assert refused.status == 403
    finally:
        await stack.close()


async def test_two_plugins_in_one_process_keep_separate_registries() -> None:
    stack = await start_stack(store=MemoryStore())
    other_host, other_plugin, other_url = await start_host(
        store=MemoryStore(),
        emulator_url=stack.emulator.base_url,
        admin_token="the-other-hosts-admin-token",
    )
    try:
        session = await stack.host.create_session(topic="Only on the first host")
        await stack.host.handoff(session.id, HandoffReason(code="requested"))
        await stack.runtime.outbox.run_until_idle()
        admin = stack.host.settings.admin_token.get_secret_value()
        first = await scrape(f"{stack.host_url}{PREFIX}/metrics", admin)
        second = await scrape(f"{other_url}{PREFIX}/metrics", "the-other-hosts-admin-token")
        assert first.value(f"{M}handoffs_total", outcome="submitted") == 1
        assert second.value(f"{M}handoffs_total", outcome="submitted") is None
        assert stack.runtime.metrics.registry is not other_plugin.runtime.metrics.registry
    finally:
        await other_host.stop()
        await stack.close()


async def test_metrics_listen_serves_metrics_on_a_listener_of_its_own(
    salesforce_emulator: Emulator,
) -> None:
    host, plugin, _ = await start_host(
        store=MemoryStore(),
        emulator_url=salesforce_emulator.base_url,
        plugin_settings={"metrics_listen": "127.0.0.1:0"},
    )
    try:
        listener = plugin.runtime.metrics_listener
        assert listener is not None and listener.url.startswith("http://127.0.0.1:")
        got = await scrape(f"{listener.url}/metrics")  # no admin token: the address guards it
        assert got.value(f"{M}token_refreshes_total") == 0
        assert f"# HELP {M}handoffs_total" in got.text
    finally:
        await host.stop()
    async with aiohttp.ClientSession() as http:
        try:
            await http.get(f"{listener.url}/metrics")
            raise AssertionError("the listener outlived the plugin")
        except aiohttp.ClientConnectionError:
            pass


@pytest.mark.parametrize(
    ("path", "kind"),
    [
        ("composite", "composite"),
        ("composite/graph", "composite_graph"),
        ("composite/sobjects", "collections"),
        ("query", "query"),
        ("/services/data/v62.0/query/01gD0000002HU6KIAW-2000", "query"),
        ("sobjects/Case/describe", "describe"),
        ("sobjects/Case/OpenCX_Session_Id__c/s_1", "sobject"),
        ("tooling/executeAnonymous", "tooling"),
        ("limits", "limits"),
        ("search", "other"),
    ],
)
def test_each_call_is_counted_under_its_resource_kind(path: str, kind: str) -> None:
    assert call_kind(path) == kind


class DownStore(MemoryStore):
    """A store whose queue reads fail, as Redis's do when it is down."""

    down = False

    async def items(self, queue: str, state: Any = None) -> Any:
        if self.down:
            raise ConnectionError("Error 111 connecting to 127.0.0.1:6379")
        return await super().items(queue, state)


async def test_metrics_answer_with_the_store_down_and_say_so(
    caplog: pytest.LogCaptureFixture,
) -> None:
    # The scrape was a 500 while Redis was down: every series vanished with it,
    # and the alerts operations.md suggests went silent instead of firing.
    store = DownStore()
    stack = await start_stack(store=store)
    try:
        url = f"{stack.host_url}{PREFIX}/metrics"
        token = stack.host.settings.admin_token.get_secret_value()
        got = await scrape(url, token)
        assert got.value(f"{M}store_up") == 1
        assert got.value(f"{M}connection", state="connected") == 1
        assert got.value(f"{M}connection", state="needs_reauthorization") == 0
        store.down = True
        got = await scrape(url, token)
        assert got.value(f"{M}store_up") == 0
        assert got.value(f"{M}dead_letters") == 0  # the last figures read
        assert "metrics: the store did not answer: ConnectionError" in caplog.text
        store.down = False
        assert (await scrape(url, token)).value(f"{M}store_up") == 1
    finally:
        await stack.close()


async def test_a_lost_connection_shows_in_the_metrics() -> None:
    stack = await start_stack(store=MemoryStore())
    try:
        # The Run As user deactivated, the token expired: the refresh is refused.
        stack.emulator.state.auth.set_user_active(stack.org.id, "admin@acme.example", False)
        stack.emulator.state.auth.expire_access_tokens(stack.org.id)
        with pytest.raises(NeedsReauthorization):
            await stack.runtime.client.limits()
        got = await scrape(
            f"{stack.host_url}{PREFIX}/metrics", stack.host.settings.admin_token.get_secret_value()
        )
        assert got.value(f"{M}connection", state="needs_reauthorization") == 1
        assert got.value(f"{M}connection", state="connected") == 0
    finally:
        await stack.close()


async def test_the_settings_page_and_status_json_say_the_store_is_down() -> None:
    # Both were a bare 500, with a traceback logged for every request.
    store = DownStore()
    stack = await start_stack(store=store)
    try:
        token = stack.host.settings.admin_token.get_secret_value()
        store.down = True
        async with aiohttp.ClientSession(headers={"Authorization": f"Bearer {token}"}) as http:
            async with http.get(f"{stack.host_url}{PREFIX}/admin/status.json") as answer:
                assert answer.status == 503 and answer.headers["Retry-After"] == "5"
                body = await answer.json()
            assert body["error"] == "store_unavailable"
            assert "The store failed (ConnectionError: Error 111" in body["message"]
            async with http.get(
                f"{stack.host_url}{PREFIX}/admin", headers={"Accept": "text/html"}
            ) as answer:
                assert answer.status == 503
                assert "this page works again once the store takes" in await answer.text()
            store.down = False
            async with http.get(f"{stack.host_url}{PREFIX}/admin/status.json") as answer:
                assert answer.status == 200
    finally:
        await stack.close()


async def test_a_failed_sweep_is_counted(monkeypatch: pytest.MonkeyPatch) -> None:
    # Failed sweeps showed only in the log and on the page; the metric stayed flat.
    stack = await start_stack(store=MemoryStore())
    try:
        sweeper = stack.runtime.sweeper

        async def out_of_reach() -> None:
            raise ConnectionError("could not reach Salesforce")

        monkeypatch.setattr(sweeper, "run_once", out_of_reach)
        await sweeper._sweep_and_log()  # one pass of the sweep's loop
        got = await scrape(
            f"{stack.host_url}{PREFIX}/metrics", stack.host.settings.admin_token.get_secret_value()
        )
        assert got.value(f"{M}sweeps_total", result="failed") == 1
    finally:
        await stack.close()


class IdleWorkersStore(MemoryStore):
    """A store whose workers find nothing to lease: due jobs stay ready."""

    async def lease(self, queue: str, *, visibility_timeout: float, limit: int = 1) -> Any:
        return []

    async def wait(self, queue: str, timeout: float) -> None:
        await asyncio.sleep(timeout)  # not woken by the due job it will not lease


async def test_scheduled_jobs_are_not_counted_as_ready_nor_as_waiting() -> None:
    # A live chat's queue timer (due 300 s later) counted as "ready", so with
    # live traffic ready never went back to 0 and oldest_age sat near the
    # timeout: the "work is not moving" alert with nothing stuck.
    stack = await start_stack(store=IdleWorkersStore())
    try:
        outbox = stack.runtime.outbox

        async def never_run(job: Job) -> None:  # no worker leases it here
            raise AssertionError(job)

        outbox.register("timer", never_run)
        outbox.register("due", never_run)
        url = f"{stack.host_url}{PREFIX}/metrics"
        token = stack.host.settings.admin_token.get_secret_value()
        await outbox.submit("timer", "timer:1", {}, delay=300, run_here=False)
        got = await scrape(url, token)
        assert got.value(f"{M}outbox_depth", state="ready") == 0
        assert got.value(f"{M}outbox_depth", state="scheduled") == 1
        assert got.value(f"{M}outbox_oldest_age_seconds") == 0

        # A job due now that no worker takes is waiting: its age is counted
        # from when it fell due, not from when the older timer was queued.
        await asyncio.sleep(1.0)
        due_at = time.time()
        await outbox.submit("due", "due:1", {}, run_here=False)
        got = await scrape(url, token)
        assert got.value(f"{M}outbox_depth", state="ready") == 1
        assert got.value(f"{M}outbox_depth", state="scheduled") == 1
        waited = got.value(f"{M}outbox_oldest_age_seconds")
        assert waited is not None and 0 <= waited <= time.time() - due_at
    finally:
        await stack.close()
