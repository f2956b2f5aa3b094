"""Before the first Connect the plugin is "not connected yet": a fresh install
is not a broken one, so nothing warns on every sweep and nothing is red."""

from __future__ import annotations

import logging

import aiohttp
import pytest
from operations_support import PREFIX

from opencx_salesforce.clock import ManualClock
from opencx_salesforce.devhost import DevHost, HostSettings
from opencx_salesforce.devhost.stack import start_stack
from opencx_salesforce.devhost.waiting import wait_for
from opencx_salesforce.emulator.app import Emulator
from opencx_salesforce.models import Contact, HandoffReason, Role
from opencx_salesforce.plugin import SalesforcePlugin
from opencx_salesforce.store.memory import MemoryStore

ADMIN = "admin-token-of-a-fresh-install-1234"


async def test_a_fresh_install_sweeps_quietly_and_its_page_says_not_connected_yet(
    salesforce_emulator: Emulator, caplog: pytest.LogCaptureFixture
) -> None:
    clock = ManualClock()
    plugin = SalesforcePlugin(clock=clock)
    host = DevHost(
        HostSettings(admin_token=ADMIN, store_url="memory://"),
        store=MemoryStore(),
        plugins={"salesforce": plugin},
        plugin_sections={
            "salesforce": {
                "dev_mode": True,
                "login_url": salesforce_emulator.base_url,
                "client_id": "3MVG9-configured-but-never-connected",
                "client_secret": "a-secret-nobody-used-yet",
                # The sweep's loop alone sleeps on the clock (asleep counts
                # the sleepers), not the retention pass's.
                "retention_days": 0,
            }
        },
    )

    async def asleep() -> bool:
        return clock.sleepers() > 0

    caplog.set_level(logging.INFO)
    url = await host.start(host="127.0.0.1", port=0)
    try:
        # Three sweeps: the one at start and two more, a sweep interval apart.
        for _ in range(3):
            await wait_for(asleep, timeout=5, what="the sweep to sleep")
            clock.advance(plugin.runtime.settings.sweep_interval_seconds * 1.2)
        await wait_for(asleep, timeout=5, what="the sweep to sleep")

        assert plugin.runtime.reply_status.last_sweep_error is None
        status = plugin.runtime.reply_status
        # It did look, quietly: with no open Case a sweep needs no token (0 calls);
        # one that needs a token before the first Connect counts as not connected.
        assert status.sweeps + status.sweeps_not_connected >= 3
        warnings = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
        assert not [w for w in warnings if "sweep" in w or "connected" in w], warnings

        headers = {"Authorization": f"Bearer {ADMIN}", "Accept": "text/html"}
        async with (
            aiohttp.ClientSession() as http,
            http.get(f"{url}{PREFIX}/admin", headers=headers) as response,
        ):
            page = await response.text()
        assert response.status == 200
        assert "Credentials saved, not connected yet" in page
        assert "NeedsReauthorization" not in page and "connected again" not in page
        assert "error-text" not in page
    finally:
        await host.stop()


async def test_a_handoff_queued_before_the_first_connect_goes_when_the_admin_connects() -> None:
    # Its wait for the admin (REAUTH_WAIT, two minutes) ended at once on a
    # reconnect, but not on the first Connect: the error then is NotConnectedYet.
    stack = await start_stack(store=MemoryStore(), connect=False)
    try:
        session = await stack.host.create_session(
            contact=Contact(name="Jane Doe", email="jane@example.com"), topic="My parcel"
        )
        await stack.host.post_message(session.id, Role.CONTACT, "Where is my parcel?")
        await stack.host.handoff(session.id, HandoffReason(code="requested"))

        async def waiting() -> bool:
            items = await stack.runtime.outbox.items()
            return any((item.last_error or "").startswith("NotConnectedYet:") for item in items)

        await wait_for(waiting, what="the handoff waiting for the first Connect")
        await stack.connect_client_credentials()

        async def linked() -> bool:
            current = await stack.host.get_session(session.id)
            return current is not None and "salesforce_case_id" in current.metadata

        await wait_for(linked, timeout=10.0, what="the Case, once connected")
    finally:
        await stack.close()
